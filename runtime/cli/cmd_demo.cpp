// `wafersim demo`: the main job on its built-in default, run by tools/bootstrap.sh. Each step is one of the
// ordinary subcommands, run as a child process (SystemC elaborates once per process): a small seeded LLaMA
// checkpoint in Hugging Face format, its generation on the modelled wafer (decode, docs/llama-on-wafer.md), then
// collectives and traffic on a small mesh of the modelled WSE-2.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "runtime/cli/options.hpp"
#include "runtime/sim_options.hpp"

extern char** environ;

namespace wafersim {
namespace {

int run_child(const std::vector<std::string>& args) {
  std::cout << "\n$ wafersim";
  for (std::size_t i = 1; i < args.size(); ++i)
    std::cout << " " << (args[i].find(' ') != std::string::npos ? "\"" + args[i] + "\"" : args[i]);
  std::cout << "\n" << std::flush;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0].c_str(), nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start " + args[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int demo(int argc, char** argv) {
  namespace po = boost::program_options;
  std::string out, mesh, arch;
  int tokens = 24;
  po::options_description desc("options");
  desc.add_options()
      ("out", po::value(&out)->default_value("out/demo"), "folder for the generated checkpoint and the JSON results")
      ("mesh", po::value(&mesh)->default_value("16x16"), "mesh of the collective and traffic steps")
      ("arch", po::value(&arch)->default_value("wse2"), "architecture: wse2, wse3 or a YAML file")
      ("max-new-tokens", cli::number(&tokens, 0)->default_value(24), "tokens the model generates");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[--out DIR] [--mesh WxH] [--arch FILE]")) return 0;

  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string model = out + "/tiny-llama";
  runtime::Stopwatch clock;
  std::filesystem::create_directories(out);
  std::cout << "wafersim demo: a seeded tiny LLaMA (HF format) decoding on the modelled wafer, then K-tree vs pipeline "
               "allreduce and synthetic traffic on a "
            << mesh << " mesh of the modelled wafer (" << arch << ")\n";
  const std::vector<std::vector<std::string>> steps = {
      {self, "make-model", "--preset", "tiny", "--seed", "1", "--out", model, "--force"},
      {self, "generate", "--model", model, "--prompt", "The wafer-scale engine", "--max-new-tokens",
       std::to_string(tokens), "--device", "wafer", "--arch", arch, "--json", out + "/generate.json"},
      {self, "bench", "allreduce", "--algo", "ktree", "--axis", "x", "--mesh", mesh, "--len", "64", "--verify",
       "--arch", arch, "--json", out + "/allreduce-ktree.json"},
      {self, "bench", "allreduce", "--algo", "pipeline", "--axis", "x", "--mesh", mesh, "--len", "64", "--verify",
       "--arch", arch, "--json", out + "/allreduce-pipeline.json"},
      {self, "bench", "fabric", "--pattern", "uniform", "--mesh", mesh, "--cycles", "2000", "--arch", arch, "--json",
       out + "/fabric.json"},
  };
  for (const auto& step : steps) {
    const int rc = run_child(step);
    if (rc != 0) {
      std::cerr << "wafersim demo: step '" << step[1] << "' failed (exit " << rc << ")\n";
      return rc;
    }
  }
  std::cout << "\nwafersim demo: done in " << clock.seconds() << " s; results in " << out << "/*.json\n";
  return 0;
}

const cli::CommandRegistration reg("demo", "the main job: tiny LLaMA + collectives + traffic on a small mesh", demo);

}  // namespace
}  // namespace wafersim
