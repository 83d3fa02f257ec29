// Timing-only prefill (runtime/prefill_timing.hpp): a GEMM extrapolated from its first steps (and MeshGEMM from its
// first alignment rounds) equals its full simulation within 1% (MeshGEMM and dist-GEMM-T), also from the reduced
// region (MeshGEMM, element-wise steps: a composed layer at P = 32, cached on a second run); end to end adds the K/V
// hand-over; the composed layer equals llama_prefill_layer's own cycles (a
// whole functional simulation) within 1%; the prefill adds up layers, handoffs and the head; `generate
// --timing-only --prompt-len` hits the on-disk cache on a second run, and rejects bad input naming the option.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "models/cpu_ops.hpp"
#include "models/model_generator.hpp"
#include "runtime/prefill_timing.hpp"
#include "sc_tests/cli_run.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;

namespace {

models::LlamaConfig config(int64_t layers) {
  models::LlamaConfig c;
  c.vocab_size = 120;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 4096;
  c.bos_token_id = 118;
  c.eos_token_ids = {119};
  c.torch_dtype = "float16";
  return c;
}

double rel(double a, double b) { return std::abs(a - b) / b; }

// At P = 20 the GEMMs run 20 steps: extrapolated from 4, 8 and 12 (steady), against the full 20.
TEST(PrefillTiming, StepExtrapolationEqualsFullGemm) {
  const int P = 20;
  runtime::PrefillTimer timer(config(1), "generated", hw::ArchParams{}, P, 80, true, {});
  for (const kernels::PrefillRun& run : {kernels::PrefillRun{"qkv", 80, 64, 128}, kernels::PrefillRun{"down", 80, 96, 64},
                                         kernels::PrefillRun{"scores", 80, 16, 80}, kernels::PrefillRun{"pv", 80, 80, 16}}) {
    const std::uint64_t extrapolated = timer.run_cycles(run), full = timer.unit_cycles(run, 0);
    std::cout << run.kernel << " at P = " << P << ": extrapolated " << extrapolated << ", full " << full << "\n";
    EXPECT_LE(rel(double(extrapolated), double(full)), 0.01) << run.kernel << ": " << extrapolated << " vs " << full;
    EXPECT_LT(timer.unit_cycles(run, 4), full) << run.kernel;  // the step limit shortens the run
  }
  EXPECT_EQ(timer.extrapolated(), 4);
}

// At P = 28 MeshGEMM aligns in up to 14 rounds: extrapolated from 4, 8 and 12 rounds (on 4 steps), its steps from 4,
// 8 and 12 (after 12 rounds), against the full simulation (14 rounds, 28 steps).
TEST(PrefillTiming, AlignmentExtrapolationEqualsFullMeshGemm) {
  const int P = 28;
  runtime::PrefillTimer timer(config(1), "generated", hw::ArchParams{}, P, 112, true, {});
  const kernels::PrefillRun run{"qkv", 112, 112, 224};
  const std::uint64_t extrapolated = timer.run_cycles(run), full = timer.unit_cycles(run, 0, 0);
  const std::uint64_t r4 = timer.unit_cycles(run, 4, 4), r8 = timer.unit_cycles(run, 4, 8),
                      r12 = timer.unit_cycles(run, 4, 12);
  std::cout << "MeshGEMM at P = " << P << ": extrapolated " << extrapolated << ", full " << full
            << "; 4 steps after 4, 8, 12 rounds: " << r4 << ", " << r8 << ", " << r12 << "\n";
  EXPECT_LT(r4, r8);  // the round limit shortens the run
  EXPECT_LT(r8, r12);
  EXPECT_LE(rel(double(extrapolated), double(full)), 0.01) << extrapolated << " vs " << full;
  EXPECT_EQ(timer.extrapolated(), 1);
  EXPECT_THROW(timer.unit_cycles(run, 4, P / 2 + 1), ConfigError);  // names align_rounds and the limit
}

// At P = 40 the MeshGEMMs run on the reduced 24 x 24 region with the same per-PE blocks (padding included: m = 100
// is 3 rows per PE) and extrapolate to 20 alignment rounds and 40 steps, dist-GEMM-T on 40 x 24 (its reductions
// span the whole row) extrapolates to 40 steps: equal to the whole 40 x 40 simulation within 1%. The element-wise
// row steps on 24 x 24 take the whole region's cycles.
TEST(PrefillTiming, ReducedRegionEqualsWholeRegion) {
  const int P = 40;
  runtime::PrefillTimer timer(config(1), "generated", hw::ArchParams{}, P, 100, true, {});
  for (const kernels::PrefillRun& run : {kernels::PrefillRun{"qkv", 100, 64, 150}, kernels::PrefillRun{"lm_head", 1, 64, 120},
                                         kernels::PrefillRun{"scores", 100, 16, 100},
                                         kernels::PrefillRun{"rope", 100, 1, 150}, kernels::PrefillRun{"swiglu", 100, 1, 96}}) {
    if (run.kernel == "scores") ASSERT_EQ(timer.unit_rows(run), runtime::PrefillTimer::kReducedSide);
    else ASSERT_EQ(timer.unit_side(run), runtime::PrefillTimer::kReducedSide) << run.kernel;
    const std::uint64_t reduced = timer.run_cycles(run), whole = timer.unit_cycles(run, 0, 0);
    std::cout << run.kernel << " at P = " << P << ": reduced " << reduced << ", whole " << whole << "\n";
    EXPECT_LE(rel(double(reduced), double(whole)), 0.01) << run.kernel << ": " << reduced << " vs " << whole;
  }
  EXPECT_EQ(timer.unit_side({"scores", 100, 16, 100}), P);  // dist-GEMM-T reduces along the whole X ring
  EXPECT_EQ(timer.unit_rows({"qkv", 100, 64, 150}), 0);
  EXPECT_EQ(timer.unit_side({"softmax", 100, 1, 100}), P);
  EXPECT_EQ(timer.unit_side({"rmsnorm", 100, 1, 64}), P);
}

// A composed layer at P = 32 (MeshGEMMs and element-wise steps on the reduced region, dist-GEMM-T on 32 x 24) against
// every run simulated
// whole on the 32 x 32 region: per kernel and in total within 1%. A second timer on the same cache simulates
// nothing, and the reduced units are keyed by their region.
TEST(PrefillTiming, ComposedReducedLayerEqualsWholeRunsAndIsCached) {
  test::TestDir dir;
  const models::LlamaConfig c = config(2);
  const int P = 32;
  const std::uint32_t L = 64;
  runtime::PrefillTimer timer(c, "generated", hw::ArchParams{}, P, L, true, dir.path() / "cache");
  const runtime::PrefillTiming t = timer.time();
  const kernels::PrefillShape shape = runtime::prefill_shape(c, P, L, true);
  runtime::PrefillTimer whole(c, "generated", hw::ArchParams{}, P, L, true, {});
  std::uint64_t layer = 0;
  for (const kernels::PrefillRun& run : kernels::prefill_layer_runs(shape, false)) {
    const std::uint64_t w = whole.unit_cycles(run, 0, 0) * std::uint64_t(run.count);
    layer += w;
    const auto it = std::find_if(t.layer_kernels.begin(), t.layer_kernels.end(),
                                 [&](const auto& k) { return k.kernel == run.kernel; });
    ASSERT_NE(it, t.layer_kernels.end()) << run.kernel;
    EXPECT_LE(rel(double(it->cycles), double(w)), 0.01) << run.kernel << ": " << it->cycles << " vs " << w;
  }
  std::cout << "layer at P = " << P << ", L = " << L << ": composed (reduced) " << t.layer_cycles << ", whole runs "
            << layer << "\n";
  EXPECT_LE(rel(double(t.layer_cycles), double(layer)), 0.01) << t.layer_cycles << " vs " << layer;

  runtime::PrefillTimer again(c, "generated", hw::ArchParams{}, P, L, true, dir.path() / "cache");
  const runtime::PrefillTiming t2 = again.time();
  EXPECT_EQ(t2.simulations, 0);
  EXPECT_GT(t2.cached, 0);
  EXPECT_EQ(t2.cycles, t.cycles);
  int reduced = 0, rows = 0;  // units on 24 x 24, on 32 x 24 (dist-GEMM-T)
  const int R = runtime::PrefillTimer::kReducedSide;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "cache")) {
    const auto j = nlohmann::json::parse(std::ifstream(e.path()));
    const auto key = nlohmann::json::parse(j["key"].get<std::string>());
    if (key["region"] == nlohmann::json{R, R}) ++reduced;
    else if (key["region"] == nlohmann::json{P, R}) ++rows;
    else EXPECT_EQ(key["region"], (nlohmann::json{P, P})) << key.dump();
  }
  EXPECT_GT(reduced, 0);
  EXPECT_GT(rows, 0);
}

// host_threads 1 and 2 simulate the same cycles: the second timer hits the first one's cache entries.
TEST(PrefillTiming, HostThreadsHitTheSameCacheEntry) {
  test::TestDir dir;
  hw::ArchParams one, two;
  one.simulation.host_threads = 1;
  two.simulation.host_threads = 2;
  const kernels::PrefillRun run{"rmsnorm", 16, 1, 64};
  runtime::PrefillTimer first(config(1), "generated", one, 4, 16, true, dir.path() / "cache");
  const std::uint64_t cycles = first.unit_cycles(run, 0);
  runtime::PrefillTimer second(config(1), "generated", two, 4, 16, true, dir.path() / "cache");
  EXPECT_EQ(second.unit_cycles(run, 0), cycles);
  const auto entries = std::distance(std::filesystem::directory_iterator(dir.path() / "cache"),
                                     std::filesystem::directory_iterator{});
  EXPECT_EQ(entries, 1) << "host_threads 2 wrote its own entry: the key holds a host-only setting";
}

// The composed layer (each distinct run once in timing-only mode, GEMMs extrapolated) against the functional layer's
// own device runs, per kernel and in total.
TEST(PrefillTiming, ComposedLayerEqualsTheFunctionalLayer) {
  const models::LlamaConfig c = config(3);
  const int P = 16;
  const std::uint32_t L = 64;
  const auto w = models::generate_llama_weights(c, 3);
  const auto f32 = [](const models::FloatTensor& t) {
    const auto v = t.to_f32();
    return std::vector<float>(v.data(), v.data() + v.size());
  };
  const auto& lw = w.layers[0];
  const kernels::PrefillWeights pw{f32(lw.input_norm), f32(lw.wq), f32(lw.wk), f32(lw.wv), {}, {}, {}, f32(lw.wo),
                                   f32(lw.post_norm), f32(lw.w_gate), f32(lw.w_up), f32(lw.w_down)};
  const kernels::PrefillShape shape = runtime::prefill_shape(c, P, L, true);
  std::vector<float> x(std::size_t(L) * 64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
  const kernels::PrefillResult full = kernels::llama_prefill_layer(shape, pw, x, hw::ArchParams{});

  runtime::PrefillTimer timer(c, "generated", hw::ArchParams{}, P, L, true, {});
  const runtime::PrefillTiming t = timer.time();
  EXPECT_GT(t.extrapolated, 0);
  std::cout << "layer at P = " << P << ", L = " << L << ": composed " << t.layer_cycles << ", functional "
            << full.cycles << "\n";
  EXPECT_LE(rel(double(t.layer_cycles), double(full.cycles)), 0.01) << t.layer_cycles << " vs " << full.cycles;
  ASSERT_EQ(t.layer_kernels.size(), full.kernels.size());
  for (const auto& kc : full.kernels) {
    const auto it = std::find_if(t.layer_kernels.begin(), t.layer_kernels.end(),
                                 [&](const auto& k) { return k.kernel == kc.kernel; });
    ASSERT_NE(it, t.layer_kernels.end()) << kc.kernel;
    EXPECT_EQ(it->runs, kc.runs) << kc.kernel;
    EXPECT_LE(rel(double(it->cycles), double(kc.cycles)), 0.01) << kc.kernel << ": " << it->cycles << " vs " << kc.cycles;
  }
  EXPECT_EQ(t.layers, 3);
  EXPECT_GT(t.head_cycles, 0u);
  EXPECT_EQ(t.cycles, 3 * t.layer_cycles + t.handoff_cycles + t.head_cycles);
}

TEST(PrefillTiming, EmptyPromptIsAConfigError) {
  EXPECT_THROW(runtime::PrefillTimer(config(1), "generated", hw::ArchParams{}, 4, 0, true, {}), ConfigError);
}

class PrefillTimingCli : public test::CliTest {
 protected:
  std::filesystem::path model() const {
    const auto d = dir() / "model";
    std::filesystem::create_directories(d);
    std::ofstream(d / "config.json") << models::to_hf_json(config(2)).dump();
    return d;
  }
  test::CliRun generate(const std::string& args) const {
    return run("generate --timing-only --model " + model().string() + " " + args);
  }
};

TEST_F(PrefillTimingCli, SecondRunHitsTheCache) {
  const std::string env = "WAFERSIM_CACHE_DIR=" + (dir() / "cache").string() + " ";
  const std::string args = " generate --timing-only --model " + model().string() +
                           " --prompt-len 40 --max-new-tokens 0 --mesh 8x8 --json " + (dir() / "r.json").string();
  const auto first = test::run_cli(env + exe().string() + args);
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_EQ(first.out.find(" 0 unit simulations"), std::string::npos) << first.out;
  const auto j1 = nlohmann::json::parse(std::ifstream(dir() / "r.json"));
  const auto second = test::run_cli(env + exe().string() + args);
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_NE(second.out.find(" 0 unit simulations"), std::string::npos) << second.out;
  const auto j2 = nlohmann::json::parse(std::ifstream(dir() / "r.json"));
  EXPECT_EQ(j1["prefill_cycles"], j2["prefill_cycles"]);
  EXPECT_GT(j2["prefill_cycles"].get<std::uint64_t>(), 0u);
  EXPECT_NEAR(j2["prefill_tokens_per_s"].get<double>(),
              40.0 / (j2["prefill_cycles"].get<double>() / j2["clock_hz"].get<double>()), 1e-6 * j2["prefill_tokens_per_s"].get<double>());
  EXPECT_EQ(j2["prefill_unit_simulations"], 0);
  EXPECT_FALSE(j2.contains("e2e_tokens_per_s"));
}

// --prefill-layers 1 places one of the two layers and counts both: the same cycles as placing both (one stage), the
// layer's time scaled by the model's layers.
TEST_F(PrefillTimingCli, PrefillLayersPlacesASubsetAndScales) {
  const std::string env = "WAFERSIM_CACHE_DIR=" + (dir() / "cache").string() + " ";
  const std::string args = " generate --timing-only --model " + model().string() +
                           " --prompt-len 40 --max-new-tokens 0 --mesh 8x8 --json ";
  const auto all = test::run_cli(env + exe().string() + args + (dir() / "all.json").string());
  ASSERT_EQ(all.status, 0) << all.out;
  const auto one = test::run_cli(env + exe().string() + args + (dir() / "one.json").string() + " --prefill-layers 1");
  ASSERT_EQ(one.status, 0) << one.out;
  const auto ja = nlohmann::json::parse(std::ifstream(dir() / "all.json"));
  const auto j1 = nlohmann::json::parse(std::ifstream(dir() / "one.json"));
  EXPECT_EQ(ja["prefill_layers_placed"], 2);
  EXPECT_EQ(j1["prefill_layers_placed"], 1);
  EXPECT_EQ(j1["prefill_cycles"].get<std::uint64_t>(),
            2 * j1["prefill_layer_cycles"].get<std::uint64_t>() + j1["prefill_handoff_cycles"].get<std::uint64_t>() +
                j1["prefill_head_cycles"].get<std::uint64_t>());
  ASSERT_EQ(ja["prefill_stages"], 1);
  EXPECT_EQ(j1["prefill_cycles"], ja["prefill_cycles"]);
  EXPECT_NE(one.out.find("1 placed, scaled"), std::string::npos) << one.out;
}

TEST_F(PrefillTimingCli, EndToEndAddsDecodeToPrefill) {
  const std::string env = "WAFERSIM_CACHE_DIR=" + (dir() / "cache").string() + " ";
  const auto r = test::run_cli(env + exe().string() + " generate --timing-only --model " + model().string() +
                               " --prompt-len 40 --max-new-tokens 3 --mesh 8x8 --json " + (dir() / "r.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(std::ifstream(dir() / "r.json"));
  EXPECT_EQ(j["context"], 40);
  EXPECT_GT(j["prefill_handover_cycles"].get<std::uint64_t>(), 0u);  // the prompt's K/V move to the decode cache
  EXPECT_EQ(j["prefill_handover"]["tokens"], 40);
  // The weights move from the prefill stages' MeshGEMM blocks to the decode layout (runtime::weight_relayout).
  EXPECT_GT(j["prefill_weight_relayout_cycles"].get<std::uint64_t>(), 0u);
  EXPECT_GT(j["prefill_weight_relayout"]["words_moved"].get<std::uint64_t>(), 0u);
  EXPECT_NE(r.out.find("weights' re-lay "), std::string::npos) << r.out;
  const double cycles = j["prefill_cycles"].get<double>() + j["prefill_handover_cycles"].get<double>() +
                        j["prefill_weight_relayout_cycles"].get<double>() +
                        3 * j["decode_cycles_per_token"].get<double>();
  EXPECT_NEAR(j["e2e_cycles"].get<double>(), cycles, 1.0);
  EXPECT_NEAR(j["e2e_tokens_per_s"].get<double>(), 3.0 / (cycles / j["clock_hz"].get<double>()),
              1e-6 * j["e2e_tokens_per_s"].get<double>());
  // A subset of the layers (--prefill-layers): the others are not on the wafer, so nothing is re-laid or added.
  const auto sub = test::run_cli(env + exe().string() + " generate --timing-only --model " + model().string() +
                                 " --prompt-len 40 --max-new-tokens 3 --mesh 8x8 --prefill-layers 1 --json " +
                                 (dir() / "s.json").string());
  ASSERT_EQ(sub.status, 0) << sub.out;
  const auto js = nlohmann::json::parse(std::ifstream(dir() / "s.json"));
  EXPECT_TRUE(js["prefill_weight_relayout_cycles"].is_null());
  EXPECT_NE(sub.out.find("weights' re-lay not modelled"), std::string::npos) << sub.out;
  EXPECT_NEAR(js["e2e_cycles"].get<double>(),
              js["prefill_cycles"].get<double>() + js["prefill_handover_cycles"].get<double>() +
                  3 * js["decode_cycles_per_token"].get<double>(),
              1.0);
}

TEST_F(PrefillTimingCli, BadInputNamesTheOption) {
  for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
           {"--prompt-len 0 --max-new-tokens 0 --mesh 8x8", "--prompt-len"},
           {"--max-new-tokens 0 --mesh 8x8 --prompt-len", "prompt-len"},
           {"--prompt-len 8 --max-new-tokens 0 --mesh 8x8 --prefill-mesh 4x8", "--prefill-mesh"},
           {"--prompt-len 8 --max-new-tokens 0 --mesh 8x4", "--prefill-mesh"},
           {"--prompt-len 8 --context 8 --mesh 8x8", "--context"},
           {"--prompt-len 8 --max-new-tokens 0 --mesh 8x8 --prefill-layers 3", "--prefill-layers 3"},
           {"--max-new-tokens 1 --mesh 8x8 --prefill-layers 1", "--prefill-layers"},
           {"--prompt-len 8 --max-new-tokens 2 --mesh 8x8 --prefill-mesh 10x10", "--prefill-mesh 10x10"}}) {
    const auto r = generate(args);
    EXPECT_NE(r.status, 0) << args << ": " << r.out;
    EXPECT_NE(r.out.find(what), std::string::npos) << args << ": " << r.out;
  }
}

}  // namespace
