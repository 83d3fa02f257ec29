// A fresh, private scratch directory per test: created under $TMPDIR (or /tmp) with mkdtemp, so two runs, two
// test processes or a file left by an earlier run can never be confused with this test's output; removed when
// the test ends. Every test that writes a file writes it here and reads only what it produced.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wafersim::test {

class TestDir {
 public:
  TestDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string stem = "wafersim_";
    if (info) stem += std::string(info->test_suite_name()) + "." + info->name();
    for (char& c : stem)
      if (c == '/') c = '_';
    std::string pattern = (std::filesystem::temp_directory_path() / (stem + ".XXXXXX")).string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path_ = buf.data();
  }
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The names in `dir`, sorted (what a test left behind, or what a command wrote).
inline std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A directory this process cannot create files in: sysfs for root (root may write into any mode-0555 directory),
// else a read-only "ro" inside `dir` (give it owner_all again before the test ends so TestDir can remove it).
inline std::filesystem::path unwritable_directory(const TestDir& dir) {
  if (::geteuid() == 0) return "/sys";
  const std::filesystem::path place = dir / "ro";
  std::filesystem::create_directory(place);
  std::filesystem::permissions(place, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  return place;
}

}  // namespace wafersim::test
