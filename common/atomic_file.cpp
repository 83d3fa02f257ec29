#include "common/atomic_file.hpp"

#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace wafersim {

namespace {
std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}
}  // namespace

void produce_file_atomically(const std::filesystem::path& path,
                             const std::function<void(const std::filesystem::path& tmp)>& produce) {
  const auto tmp = temp_path_for(path);
  try {
    produce(tmp);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path.string() + ": cannot write: " + ec.message());
  }
}

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           bool binary) {
  produce_file_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
    if (!out) throw std::runtime_error(path.string() + ": cannot open for writing");
    write(out);
    out.flush();
    if (!out) throw std::runtime_error(path.string() + ": write failed");
  });
}

}  // namespace wafersim
