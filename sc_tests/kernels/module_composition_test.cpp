// Collectives as modules inside one program: X then Y (the whole mesh), the same instance run twice on different
// buffers, a K-tree and a ring on different axes, against the CPU oracle on odd shapes; and the resource ledger's
// conflicts (colour, input/output queue, microthread, task ID) named with the PE and both module instances.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/collective_module.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"
#include "firmware/kernels/reduction_oracle.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "firmware/kernels/stream_tree.hpp"

using namespace wafersim;
using namespace wafersim::kernels;

namespace {

constexpr std::uint32_t kLen = 6;

template <class T>
std::vector<float> to_floats(const std::vector<T>& v) {
  std::vector<float> f(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) f[i] = v[i];
    else f[i] = v[i].to_float();
  }
  return f;
}
template <class T>
std::vector<T> from_floats(const std::vector<float>& f) {
  std::vector<T> v(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) v[i] = T(f[i]);
  return v;
}

// A program a user would write: one allreduce module per axis, or one module run twice. `first` runs on a, then
// `second` on b (b == a: the second module continues on the first one's result), with the plan's reduction or
// `second_op` chosen for that call.
template <class T>
class TwoRuns : public csl::Program {
 public:
  TwoRuns(PlanPtr p1, PlanPtr p2, bool same_buffer, std::optional<ReduceOp> second_op, int x, int y,
          csl::ModuleParams m1 = {}, csl::ModuleParams m2 = {})
      : rows(instantiate(this, "rows", p1, x, y, m1)),
        cols(p2 ? instantiate(this, "cols", p2, x, y, m2) : nullptr),
        same_buffer_(same_buffer), second_op_(second_op) {}
  void init() override { export_function("run", [this] { activate(first); }); }
  bool finished = false;

  csl::Array<T> a{this, "a", kLen}, b{this, "b", kLen};
  std::unique_ptr<CollectiveModule> rows, cols;  // cols empty: rows runs twice

 private:
  CollectiveModule& second_module() { return cols ? *cols : *rows; }
  bool same_buffer_;
  std::optional<ReduceOp> second_op_;
  csl::LocalTask first{this, [this] { rows->allreduce(a, kLen, {.activate = second}); }, "first"};
  csl::LocalTask second{this, [this] {
    second_module().allreduce(same_buffer_ ? a : b, kLen, {.activate = done}, second_op_);
  }, "second"};
  csl::LocalTask done{this, [this] { finished = true; }, "done"};
};

struct Modules {
  PlanPtr p1{}, p2{};
  bool same_buffer = true;
  csl::ModuleParams m1{}, m2{};
  std::optional<ReduceOp> second_op{};
};

// Loads TwoRuns on every PE of a w x h fabric with random a and b, runs it; returns the inputs and outputs per PE.
template <class T>
struct Run {
  std::vector<std::vector<float>> a_in, b_in, a_out, b_out;
  bool finished = true;
};

template <class T>
Run<T> run_two(const CollectiveConfig& cfg, const Modules& s) {
  const hw::ArchParams arch;
  fabric::Fabric f(arch, cfg.width, cfg.height);
  csl::Layout layout(cfg.width, cfg.height);
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x)
      layout.set_tile_code(x, y, [s](int px, int py) {
        return std::make_unique<TwoRuns<T>>(s.p1, s.p2, s.same_buffer, s.second_op, px, py, s.m1, s.m2);
      });
  s.p1->apply_routes(layout, "rows");
  if (s.p2) s.p2->apply_routes(layout, "cols");
  layout.load(f);
  Run<T> r;
  std::mt19937 rng(7);
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      auto& p = layout.program_as<TwoRuns<T>>(x, y);
      r.a_in.push_back(random_inputs(kLen, rng, cfg.dtype));
      r.b_in.push_back(random_inputs(kLen, rng, cfg.dtype));
      p.a.write(from_floats<T>(r.a_in.back()));
      p.b.write(from_floats<T>(r.b_in.back()));
    }
  layout.call("run");
  EXPECT_TRUE(f.run().completed);
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      auto& p = layout.program_as<TwoRuns<T>>(x, y);
      r.finished = r.finished && p.finished;
      r.a_out.push_back(to_floats(p.a.read()));
      r.b_out.push_back(to_floats(p.b.read()));
    }
  return r;
}

using Input = std::function<double(int, int, std::uint32_t)>;
Input input_of(const CollectiveConfig& cfg, const std::vector<std::vector<float>>& in) {
  return [&cfg, &in](int x, int y, std::uint32_t k) { return double(in[std::size_t(y) * cfg.width + x][k]); };
}

// Every PE holds the reduction over the whole mesh of `in` in `out`.
void expect_mesh_reduced(const CollectiveConfig& cfg, const std::vector<std::vector<float>>& in,
                         const std::vector<std::vector<float>>& out, const std::string& what) {
  for (std::uint32_t k = 0; k < kLen; ++k) {
    const auto [exact, tol] = reduce_mesh(cfg, k, input_of(cfg, in));
    for (std::size_t pe = 0; pe < out.size(); ++pe)
      ASSERT_LE(std::abs(out[pe][k] - exact), tol) << what << " PE " << pe << " element " << k << ": got "
                                                    << out[pe][k] << ", exact " << exact;
  }
}

// Every PE holds its line's reduction of `in` in `out`.
void expect_lines_reduced(const CollectiveConfig& cfg, const std::vector<std::vector<float>>& in,
                          const std::vector<std::vector<float>>& out, const std::string& what) {
  for (int l = 0; l < cfg.lines(); ++l)
    for (std::uint32_t k = 0; k < kLen; ++k) {
      const auto [exact, tol] = reduce_line(cfg, l, k, input_of(cfg, in));
      for (int p = 0; p < cfg.line_length(); ++p) {
        int x, y;
        line_to_xy(cfg, l, p, x, y);
        const float got = out[std::size_t(y) * cfg.width + x][k];
        ASSERT_LE(std::abs(got - exact), tol) << what << " line " << l << " pos " << p << " element " << k;
      }
    }
}

CollectiveConfig config(int w, int h, Axis axis, DType t, ReduceOp op, std::vector<Color> colors = {}) {
  return {.width = w, .height = h, .axis = axis, .length = kLen, .dtype = t, .op = op, .colors = std::move(colors)};
}

struct Case {
  int w, h;
  DType t;
  ReduceOp op;
};
const Case kCases[] = {{5, 3, DType::F32, ReduceOp::Sum}, {7, 4, DType::F16, ReduceOp::Sum},
                       {5, 3, DType::F16, ReduceOp::Max}, {7, 4, DType::F32, ReduceOp::Max}};

std::string name(const Case& c) {
  return std::to_string(c.w) + "x" + std::to_string(c.h) + " " + to_string(c.t) + " " + to_string(c.op);
}

template <class T>
void x_then_y(const Case& c, const std::function<PlanPtr(const CollectiveConfig&)>& x_plan,
              const std::function<PlanPtr(const CollectiveConfig&)>& y_plan) {
  const hw::ArchParams arch;
  const CollectiveConfig cx = config(c.w, c.h, Axis::X, c.t, c.op);
  Modules s{.p1 = x_plan(cx)};
  s.p2 = y_plan(config(c.w, c.h, Axis::Y, c.t, c.op, remaining_colors(*s.p1, {}, arch)));
  const Run<T> r = run_two<T>(cx, s);
  EXPECT_TRUE(r.finished) << name(c);
  expect_mesh_reduced(cx, r.a_in, r.a_out, name(c));
}

PlanPtr ktree(const CollectiveConfig& c) { return ktree_plan(c, hw::ArchParams{}); }
PlanPtr ring(const CollectiveConfig& c) { return ring_plan(c, hw::ArchParams{}); }

}  // namespace

TEST(ModuleComposition, KTreeAlongXThenAlongYReducesTheWholeMesh) {
  for (const Case& c : kCases) {
    if (c.t == DType::F32) x_then_y<float>(c, ktree, ktree);
    else x_then_y<csl::f16>(c, ktree, ktree);
  }
}

TEST(ModuleComposition, KTreeAlongXAndARingAlongYInOneProgram) {
  for (const Case& c : kCases) {
    if (c.t == DType::F32) x_then_y<float>(c, ktree, ring);
    else x_then_y<csl::f16>(c, ktree, ring);
  }
}

TEST(ModuleComposition, OneInstanceRunsTwiceOnDifferentBuffers) {
  // rows.allreduce(a) then rows.allreduce(b): both end reduced along their rows, each from its own data.
  for (const Case& c : kCases)
    for (bool use_ring : {false, true}) {
      const CollectiveConfig cx = config(c.w, c.h, Axis::X, c.t, c.op);
      const Modules s{.p1 = use_ring ? ring(cx) : ktree(cx), .same_buffer = false};
      const std::string what = name(c) + (use_ring ? " ring" : " ktree");
      auto check = [&](const auto& r) {
        EXPECT_TRUE(r.finished) << what;
        expect_lines_reduced(cx, r.a_in, r.a_out, what + " a");
        expect_lines_reduced(cx, r.b_in, r.b_out, what + " b");
      };
      if (c.t == DType::F32) check(run_two<float>(cx, s));
      else check(run_two<csl::f16>(cx, s));
    }
}

TEST(ModuleComposition, OneModuleChoosesItsReductionPerCall) {
  // rows.allreduce(a) with the plan's reduction, then rows.allreduce(b, ..., other): a sum plan takes a max and a max
  // plan a sum (llama_decode's softmax max on its Y sum module), on the K-tree, the pipeline and the ring.
  for (const Case& c : kCases)
    for (const char* kind : {"ktree", "pipeline", "ring"}) {
      const CollectiveConfig cx = config(c.w, c.h, Axis::X, c.t, c.op);
      const ReduceOp other = c.op == ReduceOp::Sum ? ReduceOp::Max : ReduceOp::Sum;
      const std::string k = kind;
      const PlanPtr p = k == "ktree" ? ktree(cx) : k == "ring" ? ring(cx) : pipeline_plan(cx, hw::ArchParams{});
      const Modules s{.p1 = p, .same_buffer = false, .second_op = other};
      const std::string what = name(c) + " " + kind + " then " + to_string(other);
      auto check = [&](const auto& r) {
        EXPECT_TRUE(r.finished) << what;
        expect_lines_reduced(cx, r.a_in, r.a_out, what + " a");
        expect_lines_reduced(config(c.w, c.h, Axis::X, c.t, other), r.b_in, r.b_out, what + " b");
      };
      if (c.t == DType::F32) check(run_two<float>(cx, s));
      else check(run_two<csl::f16>(cx, s));
    }
}

TEST(ModuleComposition, AMaxOnAModuleWhosePartialsAreFp32SumsIsRejected) {
  // fp16 data summed with fp32 partials: the wire carries fp32, a max would travel in fp16.
  CollectiveConfig cx = config(4, 2, Axis::X, DType::F16, ReduceOp::Sum);
  cx.fp32_accumulate = true;
  std::string err;
  try {
    run_two<csl::f16>(cx, {.p1 = ktree(cx), .same_buffer = false, .second_op = ReduceOp::Max});
  } catch (const std::exception& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("module 'rows' (ktree_allreduce): allreduce as a max of 'b'"), std::string::npos) << err;
  EXPECT_NE(err.find("partials travel as fp32"), std::string::npos) << err;
}

TEST(ModuleComposition, AllreduceXyLayoutMatchesTheMeshOracleAndTheBuildersStillWork) {
  const hw::ArchParams arch;
  for (const Case& c : kCases) {
    CollectiveConfig cfg = config(c.w, c.h, Axis::X, c.t, c.op);
    CollectiveLayout l = allreduce_xy(cfg, arch, ktree);
    ASSERT_EQ(l.phases.size(), 2u);
    EXPECT_EQ(l.phases[1]->cfg.axis, Axis::Y);
    for (Color cx : l.phases[0]->line.colors_used())
      for (Color cy : l.phases[1]->line.colors_used()) EXPECT_NE(cx, cy) << "X and Y share colour " << int(cx);
    fabric::Fabric f(arch, c.w, c.h);
    l.layout->load(f);
    std::vector<std::vector<float>> in, out;
    std::mt19937 rng(3);
    for (int y = 0; y < c.h; ++y)
      for (int x = 0; x < c.w; ++x) {
        in.push_back(random_inputs(kLen, rng, c.t));
        write_x(*l.layout, cfg, x, y, in.back());
      }
    l.layout->call(l.function);
    ASSERT_TRUE(f.run().completed);
    EXPECT_TRUE(all_finished(*l.layout));
    for (int y = 0; y < c.h; ++y)
      for (int x = 0; x < c.w; ++x) out.push_back(read_x(*l.layout, cfg, x, y));
    expect_mesh_reduced(cfg, in, out, name(c));
  }
}

// ---- resource ledger ------------------------------------------------------------------------------------------

namespace {
std::string load_error(const CollectiveConfig& cfg, const Modules& s) {
  try {
    run_two<float>(cfg, s);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "loaded without error";
}
}  // namespace

TEST(ModuleLedger, AnInputQueueClaimedTwiceNamesThePeAndBothModules) {
  const CollectiveConfig cx = config(5, 3, Axis::X, DType::F32, ReduceOp::Sum);
  const hw::ArchParams arch;
  Modules s{.p1 = ktree(cx), .m1 = {.input_queues = {6}}, .m2 = {.input_queues = {6}}};
  s.p2 = ktree(config(5, 3, Axis::Y, DType::F32, ReduceOp::Sum, remaining_colors(*s.p1, {}, arch)));
  EXPECT_EQ(load_error(cx, s),
            "PE(0,0): input queue 6 claimed by module 'rows' (ktree_allreduce) and module 'cols' (ktree_allreduce)");
}

TEST(ModuleLedger, AnOutputQueueAndAMicrothreadClaimedTwiceAreNamed) {
  const CollectiveConfig cx = config(5, 3, Axis::X, DType::F32, ReduceOp::Sum);
  const hw::ArchParams arch;
  Modules s{.p1 = ktree(cx), .m1 = {.output_queues = {3}}, .m2 = {.output_queues = {3}}};
  s.p2 = ktree(config(5, 3, Axis::Y, DType::F32, ReduceOp::Sum, remaining_colors(*s.p1, {}, arch)));
  EXPECT_EQ(load_error(cx, s),
            "PE(0,0): output queue 3 claimed by module 'rows' (ktree_allreduce) and module 'cols' (ktree_allreduce)");
  // rows sends through OQ 4 (microthread 4); cols receives its result on IQ 4 (microthread 4 as well).
  s.m1 = {.output_queues = {4}};
  s.m2 = {.input_queues = {4}};
  EXPECT_EQ(load_error(cx, s),
            "PE(0,0): microthread 4 claimed by module 'rows' (ktree_allreduce) and module 'cols' (ktree_allreduce)");
}

TEST(ModuleLedger, ATaskIdClaimedTwiceNamesBothModules) {
  const CollectiveConfig cx = config(5, 3, Axis::X, DType::F32, ReduceOp::Sum);
  const hw::ArchParams arch;
  Modules s{.p1 = ring(cx), .m1 = {.task_ids = {10}}, .m2 = {.task_ids = {10}}};
  s.p2 = ring(config(5, 3, Axis::Y, DType::F32, ReduceOp::Sum, remaining_colors(*s.p1, {}, arch)));
  EXPECT_EQ(load_error(cx, s),
            "PE(0,0): task ID 10 claimed by module 'rows' (ring_allreduce) and module 'cols' (ring_allreduce)");
}

TEST(ModuleLedger, AColourRoutedByBothModulesAtAPeIsNamed) {
  const CollectiveConfig cx = config(5, 3, Axis::X, DType::F32, ReduceOp::Sum);
  const Modules s{.p1 = ktree(cx), .p2 = ktree(config(5, 3, Axis::Y, DType::F32, ReduceOp::Sum))};  // same colours
  const std::string e = load_error(cx, s);
  EXPECT_EQ(e.rfind("PE(0,", 0), 0u) << e;  // the first PE of column 0 where a Y route meets an X one
  EXPECT_NE(e.find("): colour "), std::string::npos) << e;
  EXPECT_NE(e.find(" claimed by module 'rows' (ktree_allreduce) and module 'cols' (ktree_allreduce)"), std::string::npos)
      << e;
}

TEST(ModuleLedger, DrawnQueuesOfTwoModulesNeverCollide) {
  // Without given numbers both modules draw from the ledger: disjoint queues and microthreads at every PE.
  const hw::ArchParams arch;
  const CollectiveConfig cx = config(7, 4, Axis::X, DType::F32, ReduceOp::Sum);
  Modules s{.p1 = ktree(cx)};
  s.p2 = ktree(config(7, 4, Axis::Y, DType::F32, ReduceOp::Sum, remaining_colors(*s.p1, {}, arch)));
  fabric::Fabric f(arch, 7, 4);
  csl::Layout layout(7, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 7; ++x)
      layout.set_tile_code(x, y, [s](int px, int py) { return std::make_unique<TwoRuns<float>>(s.p1, s.p2, true, std::nullopt, px, py); });
  s.p1->apply_routes(layout, "rows");
  s.p2->apply_routes(layout, "cols");
  layout.load(f);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 7; ++x) {
      auto& p = layout.program_as<TwoRuns<float>>(x, y);
      const auto& qr = dynamic_cast<const StreamModule&>(*p.rows).queues();
      const auto& qc = dynamic_cast<const StreamModule&>(*p.cols).queues();
      std::vector<int> threads, iqs;
      for (const auto* q : {&qr, &qc}) {
        for (int oq : q->op_oq) threads.push_back(oq);
        if (q->receive_iq >= 0) {
          threads.push_back(q->receive_iq);
          iqs.push_back(q->receive_iq);
        }
        for (auto [c, iq] : q->iq_of) iqs.push_back(iq);
      }
      std::sort(threads.begin(), threads.end());
      std::sort(iqs.begin(), iqs.end());
      EXPECT_EQ(std::adjacent_find(threads.begin(), threads.end()), threads.end()) << "PE " << x << "," << y;
      EXPECT_EQ(std::adjacent_find(iqs.begin(), iqs.end()), iqs.end()) << "PE " << x << "," << y;
    }
}

TEST(ModuleLedger, SramOverflowNamesThePeAndTheModuleSymbolThatDidNotFit) {
  // fp16 data summed in fp32 by two rings: x (2 B per element) plus rows.acc and cols.acc (4 B each) per PE.
  const hw::ArchParams arch;
  CollectiveConfig cfg{.width = 3, .height = 2, .length = 7000, .dtype = DType::F16, .fp32_accumulate = true};
  CollectiveLayout l = allreduce_xy(cfg, arch, ring);
  fabric::Fabric f(arch, 3, 2);
  try {
    l.layout->load(f);
    FAIL() << "loaded";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("PE(0,0) program allreduce_xy"), std::string::npos) << m;
    EXPECT_NE(m.find("cols.acc"), std::string::npos) << m;
  }
}
