// The KV cache module (firmware/kernels/kv_cache.hpp) on a bare fabric: a program appends token after token (the
// host writes the new token's K/V slices on every PE, then launches "append", which appends every layer in turn);
// after every append the cache is read back per PE and reassembled row by row, top to bottom, in each row's ring
// order, and must equal the concatenated cache (every token so far, in order, with its values) for every column
// and layer. Shift: fills never differ by more than one, the cache holds H * slots tokens, an append costs the
// same on 3 or 9 rows. Concat: everything is on the bottom row, which is full after `slots` tokens. Both refuse
// the token past their capacity with a CapacityError naming the module and the capacity. A host preload (a
// prefill's K/V) leaves the state appends continue from.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/kv_cache.hpp"

using namespace wafersim;
using namespace wafersim::kernels;

namespace {

// An exactly representable value (fp16 holds integers up to 2048) for K (is_v = 0) or V of token t.
float value(std::uint64_t t, int layer, int x, std::uint32_t j, int is_v) {
  return float(int((t * 131 + std::uint64_t(layer) * 17 + std::uint64_t(x) * 29 + j * 7 + std::uint64_t(is_v) * 1000) % 4001) - 2000);
}

template <class T>
class KvProgram : public csl::Program {
 public:
  KvProgram(KvPlanPtr plan, int y) : kv(this, "kv", plan, y), layers_(plan->cfg.layers) {
    for (int l = 0; l < layers_; ++l) {
      k_new.push_back(std::make_unique<csl::Array<T>>(this, "k_new" + std::to_string(l), plan->cfg.dims));
      v_new.push_back(std::make_unique<csl::Array<T>>(this, "v_new" + std::to_string(l), plan->cfg.dims));
    }
  }
  void init() override {
    export_function("append", [this] {
      next_layer_ = 0;
      activate(next_);
    });
  }
  KvCacheModule kv;
  std::vector<std::unique_ptr<csl::Array<T>>> k_new, v_new;
  int appended = 0;  // layer appends completed

 private:
  void next() {
    if (next_layer_ > 0) ++appended;
    if (next_layer_ == layers_) return;
    const int l = next_layer_++;
    kv.append(l, *k_new[std::size_t(l)], *v_new[std::size_t(l)], {.activate = next_});
  }
  int layers_;
  int next_layer_ = 0;
  csl::LocalTask next_{this, [this] { next(); }, "next"};
};

template <class T>
float to_float(T v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return v.to_float();
}

template <class T>
class Harness {
 public:
  explicit Harness(const KvCacheConfig& cfg)
      : cfg_(cfg), plan_(kv_cache_plan(cfg, arch_)), f_(arch_, cfg.width, cfg.height), layout_(cfg.width, cfg.height) {
    for (int y = 0; y < cfg.height; ++y)
      for (int x = 0; x < cfg.width; ++x) layout_.set_tile_program<KvProgram<T>>(x, y, plan_, y);
    plan_->apply_routes(layout_, "kv");
    layout_.load(f_);
  }
  KvProgram<T>& pe(int x, int y) { return layout_.program_as<KvProgram<T>>(x, y); }

  // Appends token t (the next one) to every layer; returns the cycles it took.
  hw::Cycle append(std::uint64_t t) {
    for (int y = 0; y < cfg_.height; ++y)
      for (int x = 0; x < cfg_.width; ++x)
        for (int l = 0; l < cfg_.layers; ++l) {
          std::vector<T> k(cfg_.dims), v(cfg_.dims);
          for (std::uint32_t j = 0; j < cfg_.dims; ++j) {
            k[j] = T(value(t, l, x, j, 0));
            v[j] = T(value(t, l, x, j, 1));
          }
          pe(x, y).k_new[std::size_t(l)]->write(k);
          pe(x, y).v_new[std::size_t(l)]->write(v);
        }
    const hw::Cycle start = f_.now();
    layout_.call("append");
    EXPECT_TRUE(f_.run().completed);
    return f_.now() - start;
  }

  // Loads tokens 0..tokens-1 into every layer from the host (KvCacheModule::preload).
  void preload(std::uint64_t tokens) {
    for (int y = 0; y < cfg_.height; ++y)
      for (int x = 0; x < cfg_.width; ++x)
        for (int l = 0; l < cfg_.layers; ++l)
          pe(x, y).kv.preload(l, tokens, [&](std::uint64_t t, std::uint32_t j, bool is_v) {
            return value(t, l, x, j, is_v ? 1 : 0);
          });
  }

  // The reassembled cache equals tokens 0..tokens-1 in order on every column and layer; returns the row fills.
  std::vector<std::uint32_t> expect_cache(std::uint64_t tokens, const std::string& what) {
    std::vector<std::uint32_t> fills;
    for (int y = 0; y < cfg_.height; ++y) fills.push_back(pe(0, y).kv.fill(0));
    for (int x = 0; x < cfg_.width; ++x)
      for (int l = 0; l < cfg_.layers; ++l) {
        std::uint64_t t = 0;
        for (int y = 0; y < cfg_.height; ++y) {
          const KvCacheModule& kv = pe(x, y).kv;
          EXPECT_EQ(kv.fill(l), fills[std::size_t(y)]) << what << ": rows agree";
          EXPECT_EQ(kv.count(l), tokens) << what;
          EXPECT_EQ(kv.first_position(l), t) << what << " row " << y << " layer " << l;
          const auto k = static_cast<const csl::Array<T>&>(kv.k()).read();
          const auto v = static_cast<const csl::Array<T>&>(kv.v()).read();
          for (std::uint32_t i = 0; i < kv.fill(l); ++i, ++t) {
            const std::uint32_t s = kv.slot(l, i);
            for (std::uint32_t j = 0; j < cfg_.dims; ++j) {
              if (to_float(k[kv.k_index(l, s, j)]) != value(t, l, x, j, 0) ||
                  to_float(v[kv.v_index(l, s, j)]) != value(t, l, x, j, 1)) {
                ADD_FAILURE() << what << ": K/V of token " << t << " dim " << j << " at column " << x << " row " << y
                              << " layer " << l << " (slot " << s << ")";
                return fills;
              }
            }
          }
        }
        EXPECT_EQ(t, tokens) << what << ": the rows hold every token once";
      }
    return fills;
  }

 private:
  hw::ArchParams arch_;
  KvCacheConfig cfg_;
  KvPlanPtr plan_;
  fabric::Fabric f_;
  csl::Layout layout_;
};

template <class T>
void fill_and_check(const KvCacheConfig& cfg, const std::string& what) {
  Harness<T> h(cfg);
  const std::uint64_t cap = kv_capacity_tokens(cfg);
  for (std::uint64_t t = 0; t < cap; ++t) {
    h.append(t);
    const auto fills = h.expect_cache(t + 1, what + " after " + std::to_string(t + 1));
    if (::testing::Test::HasFailure()) return;
    const auto [lo, hi] = std::minmax_element(fills.begin(), fills.end());
    if (cfg.policy == KvPolicy::Shift) {
      ASSERT_LE(*hi - *lo, 1u) << what << ": the shift keeps the rows balanced";
      ASSERT_TRUE(std::is_sorted(fills.begin(), fills.end())) << what << ": the bottom rows are the fuller ones";
    } else {
      ASSERT_EQ(fills.back(), t + 1) << what << ": concat appends on the bottom row only";
    }
  }
  try {
    h.append(cap);
    FAIL() << what << ": no error past the capacity";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("module 'kv' (kv_cache)"), std::string::npos) << m;
    EXPECT_NE(m.find("capacity " + std::to_string(cap)), std::string::npos) << m;
  }
}

KvCacheConfig config(int w, int h, std::uint32_t dims, std::uint32_t slots, int layers, DType t, KvPolicy p) {
  return {.width = w, .height = h, .dims = dims, .slots = slots, .layers = layers, .dtype = t, .policy = p};
}

}  // namespace

TEST(KvCache, ShiftKeepsTheConcatenatedOrderUntilFullFp16) {
  // 5 rows x 4 slots: 20 appends, every row passes entries up many times (the rings wrap), two layers.
  fill_and_check<csl::f16>(config(3, 5, 3, 4, 2, DType::F16, KvPolicy::Shift), "shift fp16 3x5");
}

TEST(KvCache, ShiftKeepsTheConcatenatedOrderUntilFullFp32) {
  fill_and_check<float>(config(2, 7, 2, 3, 1, DType::F32, KvPolicy::Shift), "shift fp32 2x7");
  fill_and_check<float>(config(2, 1, 2, 3, 1, DType::F32, KvPolicy::Shift), "shift fp32 one row");
}

TEST(KvCache, ConcatFillsTheTailRowOnly) {
  fill_and_check<csl::f16>(config(3, 4, 3, 6, 2, DType::F16, KvPolicy::Concat), "concat fp16 3x4");
  fill_and_check<float>(config(2, 3, 2, 5, 1, DType::F32, KvPolicy::Concat), "concat fp32 2x3");
  EXPECT_EQ(kv_capacity_tokens(config(3, 4, 3, 6, 2, DType::F16, KvPolicy::Shift)), 24u);
  EXPECT_EQ(kv_capacity_tokens(config(3, 4, 3, 6, 2, DType::F16, KvPolicy::Concat)), 6u);
}

// A prefill's hand-over: the host preloads a prompt, then the device appends until the cache is full, the order
// intact at every step (for both policies, prompts that are and are not multiples of the rows, an empty one).
TEST(KvCache, PreloadedPromptThenAppendsKeepTheOrder) {
  for (const KvPolicy p : {KvPolicy::Shift, KvPolicy::Concat})
    for (const std::uint64_t prompt : {0u, 3u, 7u, 8u}) {
      const KvCacheConfig cfg = config(2, 4, 3, 5, 2, DType::F16, p);
      const std::string what = std::string(to_string(p)) + " prompt " + std::to_string(prompt);
      if (prompt > kv_capacity_tokens(cfg)) continue;
      Harness<csl::f16> h(cfg);
      h.preload(prompt);
      h.expect_cache(prompt, what);
      for (std::uint64_t t = prompt; t < kv_capacity_tokens(cfg); ++t) {
        h.append(t);
        h.expect_cache(t + 1, what + " after " + std::to_string(t + 1));
        if (::testing::Test::HasFailure()) return;
      }
      EXPECT_THROW(h.preload(kv_capacity_tokens(cfg) + 1), CapacityError) << what;
    }
}

TEST(KvCache, ShiftAppendCyclesDoNotGrowWithTheRows) {
  // Cycles of one append (one layer of `dims` fp16 dims) on a cache of 2 * rows - 1 entries: the bottom rows - 1
  // rows pass (the most there can be), all in parallel, so 3 and 9 rows cost the same; concat copies locally.
  const auto append_cycles = [](int rows, std::uint32_t dims, KvPolicy p) {
    Harness<csl::f16> h(config(2, rows, dims, 6, 1, DType::F16, p));
    hw::Cycle c = 0;
    const std::uint64_t n = p == KvPolicy::Shift ? std::uint64_t(2 * rows) : 4;
    for (std::uint64_t t = 0; t < n; ++t) c = h.append(t);
    return c;
  };
  const hw::Cycle s3 = append_cycles(3, 8, KvPolicy::Shift), s9 = append_cycles(9, 8, KvPolicy::Shift);
  const hw::Cycle s16 = append_cycles(3, 16, KvPolicy::Shift);
  const hw::Cycle c8 = append_cycles(3, 8, KvPolicy::Concat), c16 = append_cycles(3, 16, KvPolicy::Concat);
  std::printf("append cycles: shift 8 dims 3 rows %llu, 9 rows %llu, 16 dims %llu; concat 8 dims %llu, 16 dims %llu\n",
              (unsigned long long)s3, (unsigned long long)s9, (unsigned long long)s16, (unsigned long long)c8,
              (unsigned long long)c16);
  EXPECT_EQ(s3, s9);
  // The K column and the V row stream over one link, one wavelet per cycle: 2 cycles per dim, plus a fixed cost
  // (launch task, op issue, ramp, one hop, ramp, completion task).
  EXPECT_EQ(s16 - s3, 2u * 8u);
  EXPECT_LE(s3, 2u * 8u + 20u);
  EXPECT_LT(c8, s3);
  EXPECT_LT(c16, s16);
}

TEST(KvCache, BadConfigurationsAreNamed) {
  const hw::ArchParams arch;
  try {
    kv_cache_plan(config(2, 3, 0, 4, 1, DType::F16, KvPolicy::Shift), arch);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("kv_cache: dims = 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kv_cache_plan(config(2, 3, 2, 0, 1, DType::F16, KvPolicy::Shift), arch), ConfigError);
}
