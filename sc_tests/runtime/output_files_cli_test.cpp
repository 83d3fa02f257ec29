// The output files of every `wafersim` command end to end: bad places are refused up front (before elaboration)
// with the path and the OS reason, `--json -` is standard output, links, devices and FIFOs are honoured, a trace is
// complete when the command returns, a termination signal leaves no temporaries, and make-model --force replaces
// only a model directory.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sc_tests/cli_run.hpp"
#include "sc_tests/test_dir.hpp"

namespace {

namespace fs = std::filesystem;
using wafersim::test::CliRun;
using wafersim::test::run_cli;
using wafersim::test::TestDir;
using Clock = std::chrono::steady_clock;

std::string wafersim_exe() {
  const fs::path exe = wafersim::test::built_wafersim();
  EXPECT_FALSE(exe.empty()) << "wafersim is not built in " << WAFERSIM_BINARY_DIR;
  return exe.string();
}

using wafersim::test::listing;
using wafersim::test::slurp;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A small, quick traced run.
const std::string kSmallFabric = " bench fabric --mesh 8x8 --cycles 200";

TEST(OutputFilesCli, EveryCommandRefusesAJsonIntoAMissingDirectoryUpFront) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  const std::string json = (dir / "missing" / "r.json").string();
  // Each would first do long or failing work (a 400x400 wafer, a model or tokenizer that does not exist).
  for (const std::string args : {" bench fabric --mesh 400x400 --cycles 100000000", " bench allreduce --mesh 400x1",
                                 " generate --model /nonexistent --prompt-ids 1", " tokenize --tokenizer /nonexistent --text x"}) {
    const auto start = Clock::now();
    const CliRun r = run_cli(exe + args + " --json " + json);
    EXPECT_NE(r.status, 0) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("--json " + json + ": directory " + (dir / "missing").string() +
                         " does not exist (No such file or directory)"),
              std::string::npos)
        << args << "\n" << r.out;
    EXPECT_LT(seconds_since(start), 5.0) << args;
  }
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(OutputFilesCli, VcdIntoAMissingOrUnwritableDirectoryFailsBeforeTheRun) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  const std::string missing = (dir / "missing" / "t.vcd").string();
  const auto start = Clock::now();
  CliRun r = run_cli(exe + " bench fabric --mesh 400x400 --cycles 100000000 --vcd " + missing + " --json " +
                     (dir / "r.json").string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--vcd " + missing + ": directory " + (dir / "missing").string() +
                       " does not exist (No such file or directory)"),
            std::string::npos)
      << r.out;
  EXPECT_LT(seconds_since(start), 5.0);
  const fs::path place = wafersim::test::unwritable_directory(dir);
  const std::string unwritable = (place / "wafersim_t.vcd").string();
  r = run_cli(exe + kSmallFabric + " --vcd " + unwritable);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--vcd " + unwritable + ": cannot create a file in directory " + place.string() +
                       " (Permission denied)"),
            std::string::npos)
      << r.out;
  if (::geteuid() != 0) fs::permissions(place, fs::perms::owner_all);
  EXPECT_EQ(listing(dir.path()), ::geteuid() != 0 ? std::vector<std::string>{"ro"} : std::vector<std::string>{});
}

TEST(OutputFilesCli, VcdNamingADirectoryIsRefusedAndLeavesNothing) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  fs::create_directory(dir / "x.vcd");
  const CliRun r = run_cli(exe + kSmallFabric + " --vcd " + (dir / "x.vcd").string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--vcd " + (dir / "x.vcd").string() + ": is a directory (Is a directory)"), std::string::npos)
      << r.out;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"x.vcd"});
  EXPECT_TRUE(listing(dir / "x.vcd").empty());
}

TEST(OutputFilesCli, TracesAreCompleteWhenTheCommandReturnsAndNameNoTemporary) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  const CliRun f = run_cli(exe + kSmallFabric + " --vcd " + (dir / "f.vcd").string());
  ASSERT_EQ(f.status, 0) << f.out;
  const CliRun a = run_cli(exe + " bench allreduce --mesh 8x1 --len 4 --vcd " + (dir / "a.vcd").string());
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"a.gtkw", "a.vcd", "f.gtkw", "f.vcd"}));
  for (const char* name : {"a.vcd", "f.vcd"}) {
    const std::string vcd = slurp(dir / name);
    EXPECT_NE(vcd.find("$enddefinitions"), std::string::npos) << name;
    EXPECT_NE(vcd.find("\n#"), std::string::npos) << name << ": no time steps";
  }
  // SystemC's "tracing timescale unit set" info line named the temporary file on standard output.
  for (const CliRun* r : {&f, &a}) {
    EXPECT_EQ(r->out.find("I703"), std::string::npos) << r->out;
    EXPECT_EQ(r->out.find(".tmp."), std::string::npos) << r->out;
  }
}

TEST(OutputFilesCli, JsonDashPrintsValidJsonOnStandardOutput) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  // Standard error is discarded inside the group, so that only standard output reaches the pipe.
  for (const std::string& args : {std::string(kSmallFabric), std::string(" bench allreduce --mesh 8x1 --len 4")}) {
    const CliRun r = run_cli("{ " + exe + args + " --json - 2>/dev/null; }");
    ASSERT_EQ(r.status, 0) << r.out;
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
    EXPECT_GT(j.at("simulated_cycles").get<long long>(), 0) << args;
  }
  // /dev/stdout is standard output too: the human-readable text moves to standard error, the pipe holds JSON only.
  const CliRun d = run_cli("{ " + exe + kSmallFabric + " --json /dev/stdout 2>/dev/null; }");
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NO_THROW(nlohmann::json::parse(d.out)) << d.out;
  TestDir dir;
  ASSERT_EQ(run_cli(exe + " make-model --preset tiny --out " + (dir / "m").string()).status, 0);
  const CliRun t = run_cli("{ " + exe + " tokenize --tokenizer " + (dir / "m" / "tokenizer.json").string() +
                           " --text hello --json - 2>/dev/null; }");
  ASSERT_EQ(t.status, 0) << t.out;
  EXPECT_EQ(nlohmann::json::parse(t.out).at("text"), "hello") << t.out;
  const CliRun g = run_cli("{ " + exe + " generate --model " + (dir / "m").string() +
                           " --prompt-ids 1,2 --max-new-tokens 3 --ignore-eos --json - 2>/dev/null; }");
  ASSERT_EQ(g.status, 0) << g.out;
  EXPECT_EQ(nlohmann::json::parse(g.out).at("tokens").size(), 3u) << g.out;
}

TEST(OutputFilesCli, ASymbolicLinkStaysALinkAndItsTargetGetsTheResult) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  fs::create_directory(dir / "real");
  fs::create_directory(dir / "links");
  std::ofstream(dir / "real" / "r.json") << "old";
  fs::create_symlink("../real/r.json", dir / "links" / "r.json");
  fs::create_symlink("../real/t.vcd", dir / "links" / "t.vcd");  // dangling until the trace is written
  const CliRun r = run_cli(exe + kSmallFabric + " --json " + (dir / "links" / "r.json").string() + " --vcd " +
                           (dir / "links" / "t.vcd").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_symlink(dir / "links" / "r.json"));
  EXPECT_TRUE(fs::is_symlink(dir / "links" / "t.vcd"));
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "real" / "r.json")).at("pattern"), "uniform");
  EXPECT_NE(slurp(dir / "real" / "t.vcd").find("$enddefinitions"), std::string::npos);
  EXPECT_EQ(listing(dir / "real"), (std::vector<std::string>{"r.json", "t.vcd"}));
  // The GTKWave file sits beside the name given, and opens the VCD through it.
  EXPECT_EQ(listing(dir / "links"), (std::vector<std::string>{"r.json", "t.gtkw", "t.vcd"}));
  EXPECT_NE(slurp(dir / "links" / "t.gtkw").find((dir / "links" / "t.vcd").string()), std::string::npos);
}

TEST(OutputFilesCli, DevNullAndAFifoAreWrittenThrough) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  CliRun r = run_cli(exe + kSmallFabric + " --json /dev/null --vcd /dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists("/dev/null.gtkw"));
  TestDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  r = run_cli("cat " + (dir / "fifo").string() + " > " + (dir / "got.json").string() + " & " + exe + kSmallFabric +
              " --json " + (dir / "fifo").string() + " && wait");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "got.json")).at("mesh"), nlohmann::json({8, 8}));
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"fifo", "got.json"}));
}

// Starts wafersim with `args` (output to `log`), returns its pid.
pid_t spawn_wafersim(const std::string& exe, const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    std::FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out) ::dup2(::fileno(stdout), STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

TEST(OutputFilesCli, ATerminationSignalDuringARunLeavesNoTemporaries) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    TestDir dir, logs;
    const pid_t pid = spawn_wafersim(exe,
                                     {"bench", "fabric", "--mesh", "16x16", "--cycles", "1000000000", "--json",
                                      (dir / "r.json").string(), "--vcd", (dir / "t.vcd").string()},
                                     logs / "log");
    ASSERT_GT(pid, 0);
    // The run is under way once the trace's temporary exists; a little later it has written some of it.
    const auto start = Clock::now();
    while (listing(dir.path()).empty() && seconds_since(start) < 30) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::vector<std::string> during = listing(dir.path());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pid, sig);
    int status = 0;
    const auto killed = Clock::now();
    while (::waitpid(pid, &status, WNOHANG) == 0 && seconds_since(killed) < 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (seconds_since(killed) >= 10) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "signal " << sig << " did not end the run within 10 s";
    }
    ASSERT_EQ(during.size(), 1u) << slurp(logs / "log");
    EXPECT_NE(during[0].find(".tmp."), std::string::npos) << during[0];
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << ", status " << status << "\n" << slurp(logs / "log");
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_TRUE(listing(dir.path()).empty()) << "signal " << sig << ": " << listing(dir.path()).front();
  }
}

TEST(OutputFilesCli, MakeModelForceKeepsAWorkingFolderThatHoldsNoModel) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  std::ofstream(dir / "notes.txt") << "keep me";
  fs::create_directory(dir / "src");
  const auto start = Clock::now();
  CliRun r = run_cli("cd " + dir.path().string() + " && " + exe + " make-model --preset tiny --out . --force");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(".: --force replaces only an empty directory or a model directory (config.json and "
                       "*.safetensors), and this one holds notes.txt, src"),
            std::string::npos)
      << r.out;
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"notes.txt", "src"}));
  EXPECT_EQ(slurp(dir / "notes.txt"), "keep me");
  // Named by its path, from elsewhere, it is refused the same way.
  r = run_cli(exe + " make-model --preset tiny --out " + dir.path().string() + " --force");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"notes.txt", "src"}));
}

TEST(OutputFilesCli, MakeModelForceReplacesAModelAtomicallyButNotTheWorkingDirectory) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  TestDir dir;
  CliRun r = run_cli(exe + " make-model --preset tiny --seed 1 --out " + (dir / "m").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string first = slurp(dir / "m" / "model.safetensors");
  r = run_cli(exe + " make-model --preset tiny --seed 2 --out " + (dir / "m").string());
  EXPECT_NE(r.status, 0) << "replaced without --force\n" << r.out;
  r = run_cli(exe + " make-model --preset tiny --seed 2 --out " + (dir / "m").string() + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(slurp(dir / "m" / "model.safetensors"), first);
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"m"});  // no *.tmp.* or *.old.* beside it
  EXPECT_EQ(listing(dir / "m"), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  // Even a model directory is not swapped from under the process working in it.
  r = run_cli("cd " + (dir / "m").string() + " && " + exe + " make-model --preset tiny --out . --force");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(".: is the working directory or contains it"), std::string::npos) << r.out;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"m"});
}

}  // namespace
