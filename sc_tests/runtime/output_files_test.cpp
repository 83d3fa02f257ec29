// Output files (common/atomic_file.hpp): the up-front check names the path and the OS reason, a file is complete
// or absent, "-" is standard output, devices and FIFOs are written through, a symbolic link stays a link, and a
// termination signal removes the temporaries before it ends the process.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/atomic_file.hpp"
#include "sc_tests/test_dir.hpp"

namespace wafersim {
namespace {

namespace fs = std::filesystem;
using test::TestDir;

using test::listing;
using test::slurp;

// The message of the runtime_error that check_output_path throws ("" if it accepts the path).
std::string check_error(const std::string& path, const std::string& option, bool allow_stdout = true) {
  try {
    check_output_path(path, option, allow_stdout);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// Temporaries this process left in $TMPDIR (where stdout and device outputs are staged).
std::vector<std::string> own_temporaries() {
  std::vector<std::string> found;
  const std::string prefix = "wafersim.tmp." + std::to_string(::getpid()) + ".";
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
    if (e.path().filename().string().starts_with(prefix)) found.push_back(e.path().string());
  return found;
}

TEST(OutputCheck, NamesTheMissingDirectoryAndTheOsReason) {
  TestDir dir;
  const std::string path = (dir / "no" / "r.json").string();
  const std::string err = check_error(path, "--json");
  EXPECT_EQ(err, "--json " + path + ": directory " + (dir / "no").string() +
                     " does not exist (No such file or directory)");
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(OutputCheck, RefusesADirectory) {
  TestDir dir;
  fs::create_directory(dir / "x.vcd");
  const std::string err = check_error((dir / "x.vcd").string(), "--vcd");
  EXPECT_EQ(err, "--vcd " + (dir / "x.vcd").string() + ": is a directory (Is a directory)");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"x.vcd"});
  EXPECT_TRUE(listing(dir / "x.vcd").empty());
}

TEST(OutputCheck, RefusesAPathThroughAFile) {
  TestDir dir;
  std::ofstream(dir / "file") << "x";
  const std::string err = check_error((dir / "file" / "r.json").string(), "--json");
  EXPECT_NE(err.find((dir / "file" / "r.json").string()), std::string::npos) << err;
  EXPECT_NE(err.find("Not a directory"), std::string::npos) << err;
}

TEST(OutputCheck, RefusesADirectoryThatTakesNoNewFile) {
  TestDir dir;
  const fs::path place = wafersim::test::unwritable_directory(dir);
  const std::string path = (place / "wafersim_r.json").string();
  const std::string err = check_error(path, "--json");
  EXPECT_NE(err.find("--json " + path + ": "), std::string::npos) << err;
  EXPECT_NE(err.find("Permission denied"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(path));
  if (::geteuid() != 0) fs::permissions(place, fs::perms::owner_all);
}

TEST(OutputCheck, StandardOutputOnlyWhereAllowed) {
  EXPECT_EQ(check_error("-", "--json"), "");
  EXPECT_EQ(check_error("-", "--vcd", /*allow_stdout=*/false),
            "--vcd -: standard output is not possible here; give a file name");
  EXPECT_TRUE(own_temporaries().empty());
}

TEST(OutputCheck, AcceptsAWritablePlaceAndLeavesNothingThere) {
  TestDir dir;
  EXPECT_EQ(check_error((dir / "r.json").string(), "--json"), "");
  EXPECT_EQ(check_error("/dev/null", "--json"), "");
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(AtomicFile, AFailedWriterLeavesTheOldFileAndNoTemporary) {
  TestDir dir;
  std::ofstream(dir / "r.json") << "old";
  EXPECT_THROW(write_file_atomically(dir / "r.json",
                                     [](std::ostream& os) {
                                       os << "half";
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(slurp(dir / "r.json"), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"r.json"});
}

TEST(AtomicFile, ASymbolicLinkStaysALinkAndItsTargetGetsTheContent) {
  TestDir dir;
  fs::create_directory(dir / "real");
  fs::create_directory(dir / "links");
  std::ofstream(dir / "real" / "r.json") << "old";
  fs::create_symlink("../real/r.json", dir / "links" / "r.json");     // relative, to an existing file
  fs::create_symlink(dir / "links" / "r.json", dir / "links" / "chain.json");  // a chain of links
  fs::create_symlink("../real/new.json", dir / "links" / "dangling.json");     // to a file not yet there
  write_file_atomically(dir / "links" / "chain.json", [](std::ostream& os) { os << "new"; });
  write_file_atomically(dir / "links" / "dangling.json", [](std::ostream& os) { os << "fresh"; });
  EXPECT_TRUE(fs::is_symlink(dir / "links" / "r.json"));
  EXPECT_TRUE(fs::is_symlink(dir / "links" / "chain.json"));
  EXPECT_TRUE(fs::is_symlink(dir / "links" / "dangling.json"));
  EXPECT_EQ(slurp(dir / "real" / "r.json"), "new");
  EXPECT_EQ(slurp(dir / "real" / "new.json"), "fresh");
  EXPECT_EQ(listing(dir / "real"), (std::vector<std::string>{"new.json", "r.json"}));
  EXPECT_EQ(listing(dir / "links"), (std::vector<std::string>{"chain.json", "dangling.json", "r.json"}));
}

TEST(AtomicFile, DashIsStandardOutput) {
  ::testing::internal::CaptureStdout();
  write_file_atomically("-", [](std::ostream& os) { os << "{\"a\": 1}\n"; });
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "{\"a\": 1}\n");
  EXPECT_TRUE(own_temporaries().empty());
}

TEST(AtomicFile, DevicesAreWrittenThroughNotReplaced) {
  write_file_atomically("/dev/null", [](std::ostream& os) { os << "discarded"; });
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_TRUE(own_temporaries().empty());
  EXPECT_TRUE(writes_through("/dev/null"));
  EXPECT_TRUE(writes_through("-"));
  EXPECT_FALSE(writes_through("/tmp"));
}

TEST(AtomicFile, AFifoGetsTheContent) {
  TestDir dir;
  const fs::path fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  write_file_atomically(fifo, [](std::ostream& os) { os << "through the pipe\n"; });
  reader.join();
  EXPECT_EQ(got, "through the pipe\n");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"fifo"});
  EXPECT_TRUE(own_temporaries().empty());
}

// Runs `body` in a child process and returns its wait status.
template <typename F>
int in_child(F body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(InterruptCleanup, EachTerminationSignalRemovesTheTemporariesThenEndsTheProcess) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    TestDir dir;
    const int status = in_child([&] {
      PendingOutput out(dir / "r.json");
      std::ofstream(out.temp()) << "partial";
      fs::create_directory(dir / "m.tmp");
      InterruptCleanup listed_dir(dir / "m.tmp", /*directory=*/true);
      std::ofstream(dir / "m.tmp" / "config.json") << "{}";
      InterruptCleanup listed_file(dir / "m.tmp" / "config.json");
      if (listing(dir.path()).size() != 2) ::_exit(3);
      ::raise(sig);
      ::_exit(4);  // not reached: the signal's default action ends the process
    });
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << ", status " << status;
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_TRUE(listing(dir.path()).empty()) << "signal " << sig;
  }
}

TEST(InterruptCleanup, AnIgnoredSignalStaysIgnored) {
  TestDir dir;
  const int status = in_child([&] {
    ::signal(SIGHUP, SIG_IGN);
    PendingOutput out(dir / "r.json");
    ::raise(SIGHUP);
    out.commit();
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"r.json"});
}

TEST(InterruptCleanup, ADeferredSignalWaitsForTheEndOfTheStep) {
  TestDir dir;
  const int status = in_child([&] {
    PendingOutput out(dir / "r.json");
    {
      InterruptsDeferred swapping;
      ::raise(SIGTERM);
      std::ofstream(dir / "step-done") << "1";  // the step finishes
    }
    ::_exit(5);  // not reached
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"step-done"});
}

}  // namespace
}  // namespace wafersim
