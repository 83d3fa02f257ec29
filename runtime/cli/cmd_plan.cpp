// `wafersim plan`: how a model is placed on the fabric for decode or prefill (runtime/planner.hpp), as text and
// --json. `wafersim kv-capacity`: the longest decode the shift-based KV cache and the concatenation baseline
// support on a decode plan (docs/llama-planner.md). Both read only the model's config.json.
#include <chrono>
#include <iostream>

#include "models/llama_config.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/planner.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct Common {
  runtime::SimOptions sim;
  std::string model;
  int layers = 0;
  void add_to(po::options_description& desc) {
    desc.add_options()
        ("model", po::value(&model)->required(), "model directory (config.json) or name: llama3-8b, llama2-13b, codellama-34b, qwen2-72b")
        ("mesh", po::value(&sim.mesh)->required(), "region WxH (decode: W columns x H rows)")
        ("arch", po::value(&sim.arch_file)->default_value("wse2"), "architecture: a preset (wse2, wse3) or a YAML/JSON file")
        ("set", po::value(&sim.overrides)->composing(), "override a parameter (repeatable)")
        ("layers", po::value(&layers)->default_value(0), "place only the first N layers (0: all), as the paper runs subsets of the models too large for one wafer")
        ("json", po::value(&sim.json), "write the result as JSON to FILE ('-': standard output)");
  }
  models::LlamaConfig config() const {
    models::LlamaConfig c = models::load_llama_config(std::filesystem::path(runtime::model_dir_path(model)) / "config.json");
    if (layers < 0 || layers > c.num_hidden_layers)
      throw cli::UsageError("--layers " + std::to_string(layers) + ": must be from 0 to " + std::to_string(c.num_hidden_layers) +
                            " (the model's num_hidden_layers; 0: all)");
    if (layers > 0) c.num_hidden_layers = layers;
    return c;
  }
  void write(const nlohmann::json& result, const std::vector<std::string>& command_line, Clock::time_point start) const {
    if (sim.json.empty()) return;
    nlohmann::json out = runtime::result_envelope(command_line, std::chrono::duration<double>(Clock::now() - start).count());
    out.update(result);
    runtime::write_json(sim.json, out);
  }
};


int plan(int argc, char** argv) {
  const auto start = Clock::now();
  Common c;
  std::string phase;
  std::uint32_t prompt_len = 0;
  po::options_description desc("options");
  c.add_to(desc);
  desc.add_options()
      ("phase", po::value(&phase)->default_value("decode"), "decode or prefill")
      ("prompt-len", po::value(&prompt_len)->default_value(4096), "prefill: prompt tokens (the sequence along Y)");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm,
                          "--model DIR|NAME --mesh WxH [--phase prefill|decode] [--prompt-len N] [--layers N] [--arch wse2|wse3] [--json FILE]"))
    return 0;
  if (phase != "decode" && phase != "prefill")
    throw cli::UsageError("--phase " + phase + ": expected decode or prefill");
  c.sim.check_outputs();
  const hw::ArchParams arch = c.sim.arch();
  const auto [w, h] = c.sim.mesh_size(arch);
  const models::LlamaConfig config = c.config();
  const runtime::Plan p = phase == "decode" ? runtime::plan_decode(config, c.model, w, h, arch)
                                            : runtime::plan_prefill(config, c.model, w, h, prompt_len, arch);
  if (c.sim.json != "-") std::cout << p.to_text();
  c.write(p.to_json(), cli::command_line(argc, argv), start);
  return 0;
}

int kv_capacity(int argc, char** argv) {
  const auto start = Clock::now();
  Common c;
  po::options_description desc("options");
  c.add_to(desc);
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "--model DIR|NAME --mesh WxH [--layers N] [--arch wse2|wse3] [--json FILE]")) return 0;
  c.sim.check_outputs();
  const hw::ArchParams arch = c.sim.arch();
  const auto [w, h] = c.sim.mesh_size(arch);
  const runtime::Plan p = runtime::plan_decode(c.config(), c.model, w, h, arch);
  const double ratio = p.concat_max_tokens ? double(p.shift_max_tokens) / double(p.concat_max_tokens) : 0.0;
  if (c.sim.json != "-")
    std::cout << c.model << " decode on " << w << "x" << h << " (" << p.stages.size() << " stage(s), "
              << p.kv_slots_per_pe << " KV slots per PE): longest decode with the shift cache " << p.shift_max_tokens
              << " tokens, with concatenation " << p.concat_max_tokens << " tokens (" << ratio << "x)\n";
  c.write({{"model", c.model}, {"mesh", std::to_string(w) + "x" + std::to_string(h)}, {"arch", arch.name},
           {"layers", p.layers}, {"stages", p.stages.size()}, {"kv_slots_per_pe", p.kv_slots_per_pe},
           {"kv_bytes_per_token_per_pe", p.kv_bytes_per_token_per_pe}, {"shift_max_tokens", p.shift_max_tokens},
           {"concat_max_tokens", p.concat_max_tokens}, {"shift_over_concat", ratio}},
          cli::command_line(argc, argv), start);
  return 0;
}

const cli::CommandRegistration reg_plan("plan", "place a LLaMA model on the fabric (decode or prefill) and print the plan", plan);
const cli::CommandRegistration reg_kv("kv-capacity", "longest decode with the shift KV cache vs concatenation", kv_capacity);

}  // namespace
}  // namespace wafersim
