// `wafersim generate`: prefill a prompt and decode tokens on a device -- the modelled wafer (runtime/wafer_backend.hpp,
// the default) or the fp32 CPU reference -- streaming the text as it is produced; a summary of the simulated time
// per token on the wafer; optionally a JSON result with the tokens, timing, peak RSS and git revision.
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "models/cpu_reference.hpp"
#include "models/generator.hpp"
#include "models/llama_weights.hpp"
#include "models/tokenizer.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/sim_options.hpp"
#include "runtime/version.hpp"
#include "runtime/decode_timing.hpp"
#include "runtime/prefill_timing.hpp"
#include "runtime/timing_cache.hpp"
#include "runtime/wafer_backend.hpp"

namespace wafersim::cli {
namespace {

using Clock = std::chrono::steady_clock;

// --mesh auto: the smallest square region (from 2x2) that holds every layer, lm_head and `tokens` KV entries, and
// whose prefill region runs the prefill of `prefill_tokens` prompt tokens (runtime::prefill_sram_bytes_per_pe).
std::pair<int, int> auto_mesh(const models::LlamaConfig& config, const std::string& model, const hw::ArchParams& arch,
                              kernels::KvPolicy kv, int64_t tokens, std::uint32_t prefill_tokens = 0,
                              bool fp32_accumulate = true) {
  const int limit = std::min(arch.fabric.width, arch.fabric.height);
  for (int p = 2; p <= limit; ++p) {
    try {
      const runtime::DecodeLayout l = runtime::decode_layout(config, model, p, p, arch);
      const std::uint32_t slots = l.max_kv_slots_per_pe(int(config.num_hidden_layers), true);
      if (int64_t(kernels::kv_capacity_tokens({.height = p, .slots = slots, .policy = kv})) >= tokens &&
          runtime::prefill_sram_bytes_per_pe(l, prefill_tokens, fp32_accumulate) <= l.sram_limit)
        return {p, p};
    } catch (const CapacityError&) {
    }
  }
  throw CapacityError(model + ": no square region of the " + arch.name + " fabric holds every layer, lm_head and " +
                      std::to_string(tokens) + " KV entries in one region" +
                      (prefill_tokens ? " with the prefill of " + std::to_string(prefill_tokens) + " prompt tokens"
                                      : std::string()) +
                      "; give --mesh WxH to place the layers on several regions of that size (the planner's stages)");
}

// generate --timing-only: the decode timing of a model on the wafer from its config.json alone.
// The wafer options shared by functional and timing-only runs: --accum, --kv, --arch and --mesh, checked.
struct WaferChoice {
  std::string accum, kv;
  kernels::KvPolicy kv_policy;
  runtime::SimOptions sim;
  hw::ArchParams arch;
};
WaferChoice wafer_choice(const po::variables_map& vm) {
  WaferChoice w;
  w.accum = vm["accum"].as<std::string>();
  w.kv = vm["kv"].as<std::string>();
  if (w.accum != "fp32" && w.accum != "fp16") throw UsageError("--accum: \"" + w.accum + "\" (expected fp32 or fp16)");
  if (w.kv != "shift" && w.kv != "concat") throw UsageError("--kv: \"" + w.kv + "\" (expected shift or concat)");
  w.kv_policy = w.kv == "shift" ? kernels::KvPolicy::Shift : kernels::KvPolicy::Concat;
  w.sim.arch_file = vm["arch"].as<std::string>();
  w.sim.mesh = vm["mesh"].as<std::string>();
  w.arch = w.sim.arch();
  return w;
}

// --prefill-mesh PxP (default: the decode mesh, which must then be square).
int prefill_side(const po::variables_map& vm, std::pair<int, int> decode_mesh, const hw::ArchParams& arch) {
  if (!vm.count("prefill-mesh")) {
    if (decode_mesh.first != decode_mesh.second)
      throw UsageError("--prompt-len: prefill runs on a square region; the decode --mesh " +
                       std::to_string(decode_mesh.first) + "x" + std::to_string(decode_mesh.second) +
                       " is not square, give --prefill-mesh PxP");
    return decode_mesh.first;
  }
  const std::string m = vm["prefill-mesh"].as<std::string>();
  static const std::regex re(R"(^\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*$)");
  std::smatch g;
  if (!std::regex_match(m, g, re)) throw UsageError("--prefill-mesh " + m + ": expected PxP, e.g. 480x480");
  const int w = std::stoi(g[1]), h = std::stoi(g[2]);
  if (w != h || w < 1)
    throw UsageError("--prefill-mesh " + m + ": prefill runs MeshGEMM and dist-GEMM-T on a square P x P region");
  if (w > arch.fabric.width || w > arch.fabric.height)
    throw UsageError("--prefill-mesh " + m + ": does not fit the " + arch.name + " fabric of " +
                     std::to_string(arch.fabric.width) + "x" + std::to_string(arch.fabric.height) + " PEs");
  return w;
}

// generate --timing-only: from config.json alone, the prefill of --prompt-len tokens (runtime/prefill_timing.hpp),
// the decode of --max-new-tokens tokens after --context (or the prompt's) cached entries
// (runtime/decode_timing.hpp), or both: end to end.
int run_timing_only(int argc, char** argv, const po::variables_map& vm, const std::string& json_path) {
  if (vm.count("prompt") || vm.count("prompt-ids") || vm["device"].as<std::string>() != "wafer")
    throw UsageError("--timing-only takes no --prompt / --prompt-ids and runs on --device wafer only");
  const bool prefill = !vm["prompt-len"].defaulted();
  const int64_t prompt_len = vm["prompt-len"].as<int64_t>(), max_new = vm["max-new-tokens"].as<int64_t>();
  if (prefill && prompt_len < 1) throw UsageError("--prompt-len must be at least 1 (prompt tokens to prefill)");
  if (prefill && !vm["context"].defaulted())
    throw UsageError("--context and --prompt-len: give one (with --prompt-len, decode starts after the prompt)");
  if (!prefill && vm.count("prefill-mesh")) throw UsageError("--prefill-mesh needs --prompt-len");
  if (!prefill && !vm["prefill-layers"].defaulted()) throw UsageError("--prefill-layers needs --prompt-len");
  if (!prefill && max_new < 1)
    throw UsageError("--timing-only: --max-new-tokens must be at least 1 (decode timing), or give --prompt-len");
  const int64_t context = prefill ? prompt_len : vm["context"].as<int64_t>();
  const WaferChoice w = wafer_choice(vm);
  const std::string &accum = w.accum, &kv = w.kv;
  const kernels::KvPolicy kv_policy = w.kv_policy;
  const runtime::SimOptions& sim = w.sim;
  const hw::ArchParams& arch = w.arch;
  runtime::Stopwatch watch;
  const std::filesystem::path dir = runtime::model_dir_path(vm["model"].as<std::string>());
  require_file("--model", (dir / "config.json").string(), "a config.json file");
  const models::LlamaConfig config = models::load_llama_config(dir / "config.json");
  if (context + max_new > config.max_position_embeddings)
    throw UsageError(std::string(prefill ? "--prompt-len " : "--context ") + std::to_string(context) +
                     " + --max-new-tokens " + std::to_string(max_new) +
                     " exceeds max_position_embeddings=" + std::to_string(config.max_position_embeddings));
  const std::pair<int, int> mesh = sim.mesh == "auto"
                                       ? auto_mesh(config, dir.string(), arch, kv_policy, context + std::max<int64_t>(max_new, 1))
                                       : sim.mesh_size(arch);
  const std::string name = dir.filename().string();
  const int P = prefill ? prefill_side(vm, mesh, arch) : 0;
  const int64_t prefill_layers = vm["prefill-layers"].as<int64_t>();
  if (prefill_layers < 0 || prefill_layers > config.num_hidden_layers)
    throw UsageError("--prefill-layers " + std::to_string(prefill_layers) + ": must be from 0 to " +
                     std::to_string(config.num_hidden_layers) + " (the model's num_hidden_layers; 0: all)");
  if (prefill && max_new > 0 && (P > mesh.first || P > mesh.second))
    throw UsageError("--prefill-mesh " + std::to_string(P) + "x" + std::to_string(P) + " with --max-new-tokens: the " +
                     "K/V hand-over (runtime::kv_handover) models a prefill region inside the decode --mesh " +
                     std::to_string(mesh.first) + "x" + std::to_string(mesh.second) + "; a larger one is not modelled");
  nlohmann::json out;
  std::uint64_t total_cycles = 0;
  runtime::Plan prefill_plan;
  bool prefill_subset = false;
  if (prefill) {
    runtime::PrefillTimer timer(config, dir.string(), arch, P, std::uint32_t(prompt_len), accum == "fp32",
                                runtime::timing_cache_dir(), int(prefill_layers));
    const runtime::PrefillTiming t = timer.time();
    prefill_plan = timer.plan();
    prefill_subset = t.placed_layers < t.layers;
    const double us = arch.cycles_to_us(double(t.cycles));
    total_cycles += t.cycles;
    std::cerr << "[wafer timing-only] " << name << " prefill of " << prompt_len << " tokens on " << P << "x" << P
              << " PEs (" << arch.name << ", " << accum << " accumulation): " << t.cycles << " cycles = " << us
              << " us = " << 1e6 * double(prompt_len) / us << " prompt tokens/s; " << t.layers << " layers"
              << (t.placed_layers < t.layers ? " (" + std::to_string(t.placed_layers) + " placed, scaled)" : "")
              << " of " << t.layer_cycles << " cycles (";
    nlohmann::json by_kernel = nlohmann::json::object();
    for (const auto& kc : t.layer_kernels) {
      std::cerr << (&kc == &t.layer_kernels.front() ? "" : ", ") << kc.kernel << " " << kc.cycles;
      by_kernel[kc.kernel] = kc.cycles;
    }
    std::cerr << "), final RMSNorm + lm_head " << t.head_cycles << ", " << t.stages
              << (t.stages == 1 ? " stage" : " stages, handoffs " + std::to_string(t.handoff_cycles) + " cycles")
              << "; " << t.simulations << " unit simulations, " << t.cached << " cached, " << t.extrapolated
              << " GEMMs extrapolated from their first steps\n";
    out.update({{"prompt_len", prompt_len},
                {"prefill_mesh", {P, P}},
                {"prefill_cycles", t.cycles},
                {"prefill_us", us},
                {"prefill_tokens_per_s", 1e6 * double(prompt_len) / us},
                {"prefill_layer_cycles", t.layer_cycles},
                {"prefill_layer_cycles_by_kernel", by_kernel},
                {"prefill_head_cycles", t.head_cycles},
                {"prefill_stages", t.stages},
                {"prefill_layers_placed", t.placed_layers},
                {"prefill_handoff_cycles", t.handoff_cycles},
                {"prefill_unit_simulations", t.simulations},
                {"prefill_unit_cached", t.cached},
                {"prefill_gemms_extrapolated", t.extrapolated}});
  }
  runtime::Plan decode_plan;
  if (max_new > 0) {
    runtime::DecodeTimer timer(config, dir.string(), arch,
                               {.width = mesh.first, .height = mesh.second, .fp32_accumulate = accum == "fp32",
                                .kv_policy = kv_policy},
                               runtime::timing_cache_dir());
    const runtime::DecodeTiming t = timer.time(std::uint64_t(context), std::uint64_t(max_new));
    decode_plan = timer.plan();
    const double tpot_us = arch.cycles_to_us(t.mean_token_cycles);
    total_cycles += std::uint64_t(t.mean_token_cycles * double(max_new) + 0.5);
    std::cerr << "[wafer timing-only] " << name << " on " << mesh.first << "x" << mesh.second << " PEs ("
              << arch.name << ", " << accum << " accumulation, " << kv << " KV cache of " << t.kv_slots
              << " tokens per PE), context " << context << ", " << max_new << " new tokens: " << t.mean_token_cycles
              << " cycles per decode token (first " << t.first_token_cycles << ", last " << t.last_token_cycles
              << ") = TPOT " << tpot_us << " us = " << 1e6 / tpot_us << " tokens/s (TPR); ";
    if (t.layer_cycles_first > 0)
      std::cerr << "per layer " << t.layer_cycles_first << " cycles, final RMSNorm + lm_head + launch "
                << t.head_cycles_first << "; ";
    std::cerr << t.stages << (t.stages == 1 ? " stage; " : " stages (runtime/planner), handoffs ")
              << (t.stages == 1 ? "" : std::to_string(t.handoff_cycles) + " cycles; ") << t.simulations
              << " unit simulations, " << t.cached << " cached\n";
    if (!t.note.empty()) std::cerr << "[wafer timing-only] note: " << name << " " << t.note << "\n";
    nlohmann::json layer_by_kernel = nlohmann::json::object();
    if (!t.layer_phase_cycles_first.empty()) {
      std::cerr << "[wafer timing-only] one layer's cycles by kernel at PE (0," << mesh.second - 1
                << "; each phase's compute and the wait for its collective):";
      for (const auto& [kernel, cycles] : t.layer_phase_cycles_first) {
        std::cerr << " " << kernel << " " << cycles;
        layer_by_kernel[kernel] = cycles;
      }
      std::cerr << "\n";
    }
    out.update({{"context", context},
                {"layer_cycles_by_kernel", layer_by_kernel},
                {"kv", kv},
                {"kv_slots_per_pe", t.kv_slots},
                {"decode_cycles_per_token", t.mean_token_cycles},
                {"first_token_cycles", t.first_token_cycles},
                {"last_token_cycles", t.last_token_cycles},
                {"layer_cycles", t.layer_cycles_first},
                {"head_cycles", t.head_cycles_first},
                {"stages", t.stages},
                {"handoff_cycles", t.handoff_cycles},
                {"fabric_note", t.note},
                {"tpot_us", tpot_us},
                {"decode_tokens_per_s", 1e6 / tpot_us},
                {"unit_simulations", t.simulations},
                {"unit_cached", t.cached}});
  }
  if (prefill && max_new > 0) {
    // End to end (the paper's end-to-end TPR): new tokens per second of the request, prefill included, with the
    // transition to the decode layout (runtime/relayout.hpp): the prompt's K/V handed over to the decode cache
    // (runtime::kv_handover; on several decode stages they hand over in parallel, the stage with the most layers the
    // slowest) and the weights re-laid from the prefill stages' MeshGEMM blocks to the decode stages' layout
    // (runtime::weight_relayout; not with --prefill-layers: a subset's other layers are not on the wafer).
    const runtime::DecodeLayout layout = runtime::decode_layout(config, name, mesh.first, mesh.second, arch);
    int stage_layers = 0;
    for (const runtime::Stage& st : decode_plan.stages) stage_layers = std::max(stage_layers, st.layers);
    const runtime::KvHandover h =
        runtime::kv_handover(layout, kv_policy, P, std::uint64_t(prompt_len), stage_layers, arch);
    total_cycles += h.cycles;
    std::optional<runtime::WeightRelayout> relay;
    if (!prefill_subset) relay = runtime::weight_relayout(P, prefill_plan.stages, layout, decode_plan.stages, arch);
    if (relay) total_cycles += relay->cycles;
    const double us = arch.cycles_to_us(double(total_cycles));
    std::cerr << "[wafer timing-only] end to end: prefill " << prompt_len << " + K/V hand-over " << h.cycles
              << " cycles (" << h.words_per_pe_max << " wavelets on the busiest PE, " << h.link_words_max
              << " on the busiest link, " << h.hops_max << " hops) + ";
    if (relay)
      std::cerr << "weights' re-lay " << relay->cycles << " cycles (" << relay->words_moved << " of "
                << relay->elements << " elements move; " << relay->words_per_pe_max << " wavelets on the busiest PE, "
                << relay->link_words_max << " on the busiest link, " << relay->hops_max << " hops) + ";
    else
      std::cerr << "weights' re-lay not modelled (--prefill-layers: a subset) + ";
    std::cerr << max_new << " new tokens in " << total_cycles << " cycles = " << us << " us = "
              << 1e6 * double(max_new) / us << " new tokens/s (e2e TPR)\n";
    out.update({{"prefill_handover_cycles", h.cycles},
                {"prefill_handover", runtime::to_json(h)},
                {"prefill_weight_relayout_cycles", relay ? nlohmann::json(relay->cycles) : nlohmann::json()},
                {"prefill_weight_relayout", relay ? runtime::to_json(*relay) : nlohmann::json()},
                {"e2e_cycles", total_cycles},
                {"e2e_us", us},
                {"e2e_tokens_per_s", 1e6 * double(max_new) / us}});
  }
  const double seconds = watch.seconds();
  const int64_t rss = static_cast<int64_t>(runtime::peak_rss_bytes());
  std::cerr << "[wafer timing-only] host " << seconds << " s, peak RSS " << rss / (1024 * 1024) << " MiB\n";
  if (!json_path.empty()) {
    nlohmann::json j = runtime::result_envelope(command_line(argc, argv), seconds);
    j.update({{"model", dir.string()},
              {"device", "wafer"},
              {"timing_only", true},
              {"max_new_tokens", max_new},
              {"mesh", {mesh.first, mesh.second}},
              {"clock_hz", arch.clock_hz},
              {"accum", accum},
              {"config", models::to_hf_json(config)}});
    j.update(out);
    runtime::write_json(json_path, j);
  }
  return 0;
}

int run_generate(int argc, char** argv) {
  po::options_description desc("options");
  desc.add_options()("model", po::value<std::string>()->required(),
                     "Hugging Face model directory (config.json, model.safetensors or index + shards, tokenizer.json), or a paper model name (llama3-8b, llama2-13b, codellama-34b, qwen2-72b: configs/models/, config only)")
      ("prompt", po::value<std::string>(), "prompt text (encoded with the model's tokenizer.json, BOS added)")
      ("prompt-ids", po::value<std::string>(), "prompt as comma-separated token IDs instead of --prompt")
      ("max-new-tokens", number<int64_t>(0)->default_value(32), "tokens to generate at most")
      ("device", po::value<std::string>()->default_value("wafer"), "wafer (the modelled wafer) or cpu (fp32 reference)")
      ("mesh", po::value<std::string>()->default_value("auto"),
       "wafer region WxH, or auto: the smallest square holding the model and the prompt + new tokens' KV cache, "
       "whose prefill region holds the prompt's prefill")
      ("arch", po::value<std::string>()->default_value("wse2"), "architecture: wse2, wse3 or a YAML file")
      ("accum", po::value<std::string>()->default_value("fp32"),
       "wafer accumulation: fp32 (fmachs: fp16 products, fp32 sums) or fp16 (fmach)")
      ("kv", po::value<std::string>()->default_value("shift"),
       "wafer KV cache: shift (the paper's, balanced over the rows) or concat (the tail row only)")
      ("json", po::value<std::string>(), "write the result (tokens, text, timing, peak RSS, git revision) here (- for stdout)")
      ("seed", number<uint64_t>(0)->default_value(0), "sampling seed")
      ("temperature", number(0.0)->default_value(0.0), "0 = greedy; > 0 samples")
      ("top-k", number<int64_t>(0)->default_value(0), "sample among the K most likely tokens (0 = all)")
      ("top-p", number(0.0, 1.0)->above()->default_value(1.0), "sample from the smallest set with probability >= P, (0, 1]")
      ("timing-only", po::bool_switch(),
       "wafer timing from config.json alone (no weights, no tokenizer, no prompt): decode cycles per token composed "
       "from a cached two-layer simulation per context (runtime/decode_timing.hpp), prefill (--prompt-len) from cached "
       "runs of each kernel (runtime/prefill_timing.hpp)")
      ("context", number<int64_t>(0)->default_value(0),
       "--timing-only: KV entries cached before the first decode token (the paper's decode at 4K context: 4096)")
      ("prompt-len", number<int64_t>(0)->default_value(0),
       "--timing-only: time the prefill of a prompt of N tokens (runtime/prefill_timing.hpp); with --max-new-tokens "
       "0 prefill alone, else end to end (decode after the prompt)")
      ("prefill-mesh", po::value<std::string>(),
       "--timing-only --prompt-len: the square prefill region PxP (default: --mesh)")
      ("prefill-layers", number<int64_t>(0)->default_value(0),
       "--timing-only --prompt-len: place only the first N layers on the prefill regions and count all of the "
       "model's layers (the paper's subsets of models too large for the wafer, scaled proportionally; 0: all)")
      ("ignore-eos", po::bool_switch(), "do not stop at eos_token_id (for benchmarks)")
      ("threads", number(0, 4096)->default_value(0),
       "CPU threads; 0 = decode on 1 or all cores (OMP_NUM_THREADS), whichever times faster");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, vm,
                     "--model DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N] [--device wafer|cpu] "
                     "[--mesh WxH|auto] [--arch wse2] [--accum fp32|fp16] [--kv shift|concat] [--json FILE] "
                     "[--seed S --temperature T --top-k K --top-p P] | --model DIR|NAME --timing-only [--context N | "
                     "--prompt-len N [--prefill-mesh PxP] [--prefill-layers N]] [--max-new-tokens N] [--mesh WxH|auto] [--arch wse2] [--accum] [--kv] [--json FILE]"))
    return 0;
  const std::string json_path = vm.count("json") ? vm["json"].as<std::string>() : "";
  if (!json_path.empty()) check_output_path(json_path, "--json");

  if (vm["timing-only"].as<bool>()) return run_timing_only(argc, argv, vm, json_path);
  if (!vm["context"].defaulted()) throw UsageError("--context needs --timing-only (a functional run caches its prompt)");
  if (!vm["prompt-len"].defaulted() || vm.count("prefill-mesh") || !vm["prefill-layers"].defaulted())
    throw UsageError("--prompt-len, --prefill-mesh and --prefill-layers need --timing-only (a functional run prefills "
                     "its --prompt)");
  const std::string device = vm["device"].as<std::string>();
  if (device != "cpu" && device != "wafer") throw UsageError("--device: \"" + device + "\" is not a device (expected cpu or wafer)");
  if (vm.count("prompt") == vm.count("prompt-ids")) throw UsageError("give exactly one of --prompt and --prompt-ids");
  const int64_t max_new = vm["max-new-tokens"].as<int64_t>();
  models::GenerationOptions options;
  options.max_new_tokens = max_new;
  options.sampling = {vm["temperature"].as<double>(), vm["top-k"].as<int64_t>(), vm["top-p"].as<double>(),
                      vm["seed"].as<uint64_t>()};
  try {
    models::Sampler check(options.sampling);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }

  const int threads = vm["threads"].as<int>();
  const WaferChoice w = wafer_choice(vm);
  const std::string &accum = w.accum, &kv = w.kv;
  const kernels::KvPolicy kv_policy = w.kv_policy;
  const runtime::SimOptions& sim = w.sim;
  const hw::ArchParams& arch = w.arch;
  std::optional<std::pair<int, int>> mesh;
  if (sim.mesh != "auto") mesh = sim.mesh_size(arch);

  const auto start = Clock::now();
  const std::filesystem::path dir = runtime::model_dir_path(vm["model"].as<std::string>());
  auto weights = std::make_shared<const models::LlamaWeights>(models::load_llama_model(dir));
  const models::LlamaConfig& config = weights->config;
  std::optional<models::Tokenizer> tokenizer;
  if (std::filesystem::exists(dir / "tokenizer.json")) {
    require_file("--model", (dir / "tokenizer.json").string(), "a tokenizer.json file");
    tokenizer = models::Tokenizer::load(dir / "tokenizer.json");
  }

  std::vector<int32_t> prompt;
  if (vm.count("prompt")) {
    if (!tokenizer) throw ConfigError((dir / "tokenizer.json").string() + ": missing (needed to encode --prompt)");
    try {
      prompt = tokenizer->encode(vm["prompt"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--prompt: ") + e.what());
    }
    if (prompt.empty()) throw UsageError("--prompt: encodes to no tokens");
  } else {
    const std::vector<int> ids = parse_int_list(vm["prompt-ids"].as<std::string>(), "--prompt-ids");
    prompt.assign(ids.begin(), ids.end());
  }
  for (int32_t id : prompt)
    if (id < 0 || id >= config.vocab_size)
      throw UsageError("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(config.vocab_size) + ")");
  if (static_cast<int64_t>(prompt.size()) + max_new > config.max_position_embeddings)
    throw UsageError("prompt (" + std::to_string(prompt.size()) + " tokens) + --max-new-tokens " +
                     std::to_string(max_new) + " exceeds max_position_embeddings=" +
                     std::to_string(config.max_position_embeddings));
  if (!vm["ignore-eos"].as<bool>()) options.stop_tokens = config.eos_token_ids;
  const double load_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::unique_ptr<models::LogitsBackend> backend_ptr;
  runtime::WaferBackend* wafer = nullptr;
  if (device == "wafer") {
    if (!mesh)  // the prompt's first size - 1 tokens run through the prefill (the last one is a decode step)
      mesh = auto_mesh(config, dir.string(), arch, kv_policy, int64_t(prompt.size()) + max_new,
                       prompt.empty() ? 0 : std::uint32_t(prompt.size() - 1), accum == "fp32");
    auto w = std::make_unique<runtime::WaferBackend>(
        weights, dir.string(), arch,
        runtime::WaferOptions{.width = mesh->first, .height = mesh->second, .fp32_accumulate = accum == "fp32",
                              .kv_policy = kv_policy});
    if (int64_t(w->max_tokens()) < int64_t(prompt.size()) + max_new)
      throw CapacityError(dir.string() + ": the KV cache on " + std::to_string(mesh->first) + "x" +
                          std::to_string(mesh->second) + " PEs holds " + std::to_string(w->max_tokens()) +
                          " tokens, fewer than the prompt (" + std::to_string(prompt.size()) + ") + --max-new-tokens " +
                          std::to_string(max_new) + "; use a larger --mesh");
    wafer = w.get();
    backend_ptr = std::move(w);
  } else {
    backend_ptr = std::make_unique<models::CpuReference>(weights, threads);
  }
  models::LogitsBackend& backend = *backend_ptr;
  models::Detokenizer detokenize;
  if (tokenizer) detokenize = [&](const std::vector<int32_t>& ids) { return tokenizer->decode(ids, true); };
  models::Generator generator(backend, detokenize);
  bool first = true;
  std::ostream& out = text_stream(json_path);  // stderr when the JSON goes to stdout
  const auto result = generator.run(prompt, options, [&](int32_t id, std::string_view text) {
    if (tokenizer) out << text;
    else out << (first ? "" : " ") << id;
    first = false;
    out.flush();
  });
  out << "\n";
  const double host_seconds = result.prefill_seconds + result.decode_seconds;
  const int64_t rss = static_cast<int64_t>(runtime::peak_rss_bytes());
  std::cerr << "[" << backend.describe() << "] prompt " << prompt.size() << " tokens, prefill "
            << result.prefill_seconds << " s; " << result.tokens.size() << " new tokens, " << result.decode_steps
            << " decode steps in " << result.decode_seconds << " s = " << result.decode_tokens_per_second()
            << " tokens/s" << (result.stopped_at_eos ? "; stopped at EOS" : "") << "; load " << load_seconds
            << " s; peak RSS " << rss / (1024 * 1024) << " MiB\n";
  // Simulated time per token: the mean of the decode steps (the prompt's last step if there were none).
  std::uint64_t cycles_per_token = 0;
  if (wafer) {
    cycles_per_token = wafer->decode_steps() ? wafer->decode_cycles() / wafer->decode_steps() : wafer->last_step_cycles();
    std::cerr << "[wafer] " << cycles_per_token << " cycles per decode token = " << arch.cycles_to_us(double(cycles_per_token))
              << " us at " << arch.clock_hz / 1e9 << " GHz (TPOT); SRAM per PE " << wafer->sram_bytes_per_pe_max()
              << " bytes, "
              << wafer->colors_per_pe_max() << " colours per PE; compute utilisation "
              << 100.0 * wafer->decode_compute_utilisation() << "%; energy "
              << arch.energy.wafer_power_watts * arch.cycles_to_us(double(cycles_per_token)) * 1e-6
              << " J per token (whole wafer at energy.wafer_power_watts)\n";
    const runtime::Plan& plan = wafer->plan();
    if (plan.stages.size() > 1) {
      const std::vector<std::uint64_t> stage_cycles = wafer->decode_stage_cycles();
      std::cerr << "[wafer] " << plan.stages.size() << " stages (runtime/planner) of " << mesh->first << "x"
                << mesh->second << " PEs, cycles per decode token:";
      for (std::size_t i = 0; i < plan.stages.size(); ++i) {
        const runtime::Stage& st = plan.stages[i];
        std::cerr << (i ? ";" : "") << " stage " << i << " layers " << st.first_layer << ".."
                  << st.first_layer + st.layers - 1 << (st.lm_head ? " + lm_head" : "") << " at (" << st.x0 << ","
                  << st.y0 << ") " << (wafer->decode_steps() ? stage_cycles[i] / wafer->decode_steps() : 0);
        if (!st.lm_head) std::cerr << ", handoff " << st.handoff_cycles;
      }
      std::cerr << "; handoffs " << plan.handoff_cycles() << " cycles per token (the planner's model)\n";
    }
    const int P = runtime::prefill_side(wafer->layout());
    const runtime::KvHandover& h = wafer->handover();
    const runtime::WeightRelayout& relay = wafer->relayout();
    std::cerr << "[wafer] prefill " << wafer->prefill_cycles() << " cycles = "
              << arch.cycles_to_us(double(wafer->prefill_cycles()))
              << " us: " << h.tokens << " prompt tokens through the prefill runs on " << P << "x" << P << " PEs "
              << wafer->prefill_run_cycles() << " cycles, K/V hand-over to the decode cache " << h.cycles
              << " cycles (model: " << h.words_per_pe_max << " wavelets at the busiest PE, " << h.link_words_max
              << " on the busiest link, " << h.hops_max << " hops), weights' re-lay to the decode layout "
              << relay.cycles << " cycles (model: " << relay.words_moved << " of " << relay.elements
              << " elements move, " << relay.words_per_pe_max << " wavelets at the busiest PE, "
              << relay.link_words_max << " on the busiest link, " << relay.hops_max
              << " hops), the last prompt token's decode step " << wafer->prefill_step_cycles() << " cycles\n";
    if (!wafer->prefill_kernel_cycles().empty()) {
      std::cerr << "[wafer] prefill runs' cycles by kernel (" << config.num_hidden_layers << " layers):";
      for (const auto& [name, cycles] : wafer->prefill_kernel_cycles()) std::cerr << " " << name << " " << cycles << ";";
      std::cerr << "\n";
    }
    if (wafer->decode_steps()) {
      std::cerr << "[wafer] cycles per decode token by kernel (PE 0," << mesh->second - 1 << "; "
                << config.num_hidden_layers << " layers):";
      for (const auto& [name, cycles] : wafer->decode_phase_cycles())
        std::cerr << " " << name << " " << cycles / wafer->decode_steps() << ";";
      std::cerr << "\n";
    }
  }

  if (vm.count("json")) {
    nlohmann::json out = runtime::result_envelope(command_line(argc, argv), host_seconds);
    out.update({
        {"model", dir.string()},
        {"device", device},
        {"backend", backend.describe()},
        {"prompt_tokens", result.prompt_tokens},
        {"tokens", result.tokens},
        {"text", result.text},
        {"stopped_at_eos", result.stopped_at_eos},
        {"max_new_tokens", max_new},
        {"sampling",
         {{"seed", options.sampling.seed},
          {"temperature", options.sampling.temperature},
          {"top_k", options.sampling.top_k},
          {"top_p", options.sampling.top_p}}},
        {"load_seconds", load_seconds},
        {"prefill_seconds", result.prefill_seconds},
        {"decode_seconds", result.decode_seconds},
        {"decode_steps", result.decode_steps},
        {"tokens_per_second", result.decode_tokens_per_second()},
        {"config", models::to_hf_json(config)},
    });
    if (wafer) {
      nlohmann::json by_kernel = nlohmann::json::object(), prefill_by_kernel = nlohmann::json::object();
      for (const auto& [name, cycles] : wafer->prefill_kernel_cycles()) prefill_by_kernel[name] = cycles;
      for (const auto& [name, cycles] : wafer->decode_phase_cycles())
        by_kernel[name] = wafer->decode_steps() ? cycles / wafer->decode_steps() : 0;
      out.update({
          {"simulated_cycles", wafer->prefill_cycles() + wafer->decode_cycles()},
          {"prefill_cycles", wafer->prefill_cycles()},
          {"prefill_run_cycles", wafer->prefill_run_cycles()},
          {"prefill_handover_cycles", wafer->handover().cycles},
          {"prefill_weight_relayout_cycles", wafer->relayout().cycles},
          {"prefill_last_token_cycles", wafer->prefill_step_cycles()},
          {"prefill_handover", runtime::to_json(wafer->handover())},
          {"prefill_weight_relayout", runtime::to_json(wafer->relayout())},
          {"prefill_mesh", {runtime::prefill_side(wafer->layout()), runtime::prefill_side(wafer->layout())}},
          {"prefill_cycles_by_kernel", prefill_by_kernel},
          {"prefill_sram_bytes_per_pe_max", wafer->prefill_sram_bytes_per_pe_max()},
          {"decode_cycles_per_token", cycles_per_token},
          {"tpot_us", arch.cycles_to_us(double(cycles_per_token))},
          {"mesh", {mesh->first, mesh->second}},
          {"clock_hz", arch.clock_hz},
          {"accum", accum},
          {"kv", kv},
          {"kv_slots_per_pe", wafer->kv_slots()},
          {"decode_cycles_by_kernel", by_kernel},
          {"compute_utilisation", wafer->decode_compute_utilisation()},
          {"energy_per_token_j", arch.energy.wafer_power_watts * arch.cycles_to_us(double(cycles_per_token)) * 1e-6},
          {"sram_bytes_per_pe_max", wafer->sram_bytes_per_pe_max()},
          {"colors_per_pe_max", wafer->colors_per_pe_max()},
      });
      nlohmann::json stages = nlohmann::json::array();
      const std::vector<std::uint64_t> stage_cycles = wafer->decode_stage_cycles();
      for (std::size_t i = 0; i < wafer->plan().stages.size(); ++i) {
        const runtime::Stage& st = wafer->plan().stages[i];
        stages.push_back({{"first_layer", st.first_layer}, {"layers", st.layers}, {"lm_head", st.lm_head},
                          {"origin", {st.x0, st.y0}}, {"handoff_hops", st.handoff_hops},
                          {"handoff_cycles", st.handoff_cycles},
                          {"cycles_per_token", wafer->decode_steps() ? stage_cycles[i] / wafer->decode_steps() : 0}});
      }
      out.update({{"stages", stages.size()}, {"handoff_cycles", wafer->plan().handoff_cycles()},
                  {"decode_stages", stages}});
    } else {
      out["simulated_cycles"] = nullptr;  // the CPU reference simulates no hardware
    }
    runtime::write_json(json_path, out);
  }
  return 0;
}

CommandRegistration reg("generate", "generate text with a LLaMA model on the modelled wafer or the CPU reference",
                        run_generate);

}  // namespace
}  // namespace wafersim::cli
