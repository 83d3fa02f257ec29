// PEs with the same role share their program code (issue 12, "the compute side at paper scale"): csl::ProgramCode
// (name, symbol table, task table, exports) is one object for every PE whose program declared the same, and a
// stream collective's queues and fabric DSDs are one object for every PE at the same place of its plan; what each
// PE computes stays its own (SRAM contents, engine, task state), and a PE's own program bytes stay under 1 KB.
#include <map>

#include "firmware/csl/layout.hpp"
#include "firmware/kernels/stream_tree.hpp"
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;
using namespace wafersim::kernels::test;

namespace {

// A program whose declarations depend on a parameter: PEs with equal `n` have one role.
class Scaled : public csl::Program {
 public:
  explicit Scaled(std::uint32_t n) : n_(n) {}
  std::string name() const override { return "scaled"; }
  void init() override { export_function("go", [this] { activate(go_); }); }

 private:
  std::uint32_t n_;
  csl::Array<float> v_{this, "v", n_};
  csl::LocalTask go_{this, [this] { fmovs(v_, 2.0f * float(n_)); }, "go"};
};

}  // namespace

TEST(ProgramSharing, EqualDeclarationsShareOneCodeOthersDoNot) {
  const hw::ArchParams arch;
  fabric::Fabric f(arch, 3, 1, fabric::DataMode::Functional);
  csl::Layout layout(3, 1);
  layout.set_tile_program<Scaled>(0, 0, 4u);
  layout.set_tile_program<Scaled>(1, 0, 6u);
  layout.set_tile_program<Scaled>(2, 0, 4u);
  layout.export_symbol("v");
  layout.load(f);
  const csl::ProgramCode& c0 = layout.program(0, 0).code();
  EXPECT_EQ(&c0, &layout.program(2, 0).code()) << "same declarations, different factories: one code";
  EXPECT_NE(&c0, &layout.program(1, 0).code());
  EXPECT_EQ(layout.roles(), 2u);
  ASSERT_EQ(c0.symbols.size(), 1u);
  EXPECT_EQ(c0.symbols[0].name, "v");
  EXPECT_EQ(c0.symbols[0].count, 4u);
  EXPECT_EQ(layout.program(1, 0).code().symbols[0].count, 6u);
  ASSERT_EQ(c0.tasks.size(), 1u);
  EXPECT_EQ(*c0.tasks[0].label, "go");
  EXPECT_EQ(c0.exports, std::vector<std::string>{"go"});
  // Per-PE state: each PE's own SRAM, written by the host and by its own task.
  layout.write_symbol<float>(0, 0, "v", {1, 2, 3, 4});
  layout.write_symbol<float>(2, 0, "v", {5, 6, 7, 8});
  EXPECT_EQ(layout.read_symbol<float>(0, 0, "v"), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(layout.read_symbol<float>(2, 0, "v"), (std::vector<float>{5, 6, 7, 8}));
  layout.engine(2, 0).activate(layout.program(2, 0).code().tasks[0].id);
  layout.engine(2, 0).wake();
  ASSERT_TRUE(f.run().completed);
  EXPECT_EQ(layout.read_symbol<float>(0, 0, "v"), (std::vector<float>{1, 2, 3, 4})) << "PE(0,0) did not run";
  EXPECT_EQ(layout.read_symbol<float>(2, 0, "v"), (std::vector<float>{8, 8, 8, 8}));
  EXPECT_EQ(layout.program(0, 0).symbol("v").name(), "v");
}

TEST(ProgramSharing, KTreeAllreduceXyPesShareCodeAndDsdsButNotState) {
  const CollectiveConfig cfg{.width = 12, .height = 9, .length = 8, .dtype = DType::F32};
  const hw::ArchParams arch;
  fabric::Fabric f(arch, cfg.width, cfg.height, fabric::DataMode::Functional);
  CollectiveLayout c = allreduce_xy(cfg, arch, [&](const CollectiveConfig& p) { return ktree_plan(p, arch); });
  c.layout->load(f);
  auto program = [&](int x, int y) -> const CollectiveProgram& { return c.layout->program_as<CollectiveProgram>(x, y); };
  // One program code for the whole mesh: every PE declares the vector x, the task "step" and "allreduce".
  EXPECT_EQ(c.layout->roles(), 1u);
  EXPECT_EQ(&program(0, 0).code(), &program(11, 8).code());
  EXPECT_EQ(program(0, 0).code().symbols.at(0).name, "x");
  EXPECT_NE(&c.layout->engine(0, 0), &c.layout->engine(11, 8));
  // The row module's queues and DSDs: one object per distinct content, and equal contents share it. Every row runs
  // the same line plan, so a column's PEs share theirs (12 positions, 108 PEs).
  std::map<const StreamModule::Wiring*, std::vector<std::pair<int, int>>> holders;
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      const auto& rows = dynamic_cast<const StreamModule&>(*program(x, y).modules().at(0));
      holders[&rows.wiring()].push_back({x, y});
      EXPECT_EQ(&rows.wiring(), &dynamic_cast<const StreamModule&>(*program(x, 0).modules().at(0)).wiring())
          << "PE(" << x << "," << y << ") and PE(" << x << ",0)";
    }
  for (auto a = holders.begin(); a != holders.end(); ++a)
    for (auto b = std::next(a); b != holders.end(); ++b) EXPECT_FALSE(*a->first == *b->first) << "equal contents, two copies";
  EXPECT_LE(holders.size(), std::size_t(cfg.width));
  EXPECT_GE(holders.size(), 3u);  // leaves, chain members, roots differ
  // A PE's own bytes: the program, its vector's object, its two modules (shared code and DSDs excluded).
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) EXPECT_LE(program(x, y).host_bytes(), 1024u) << "PE(" << x << "," << y << ")";
  // Per-PE state: distinct inputs give every PE the sum over the whole mesh (CPU oracle, fp32 error bound).
  std::vector<std::vector<float>> in;
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      in.push_back(random_vector(cfg.length, 17u + unsigned(y * cfg.width + x), cfg.dtype));
      write_x(*c.layout, cfg, x, y, in.back());
    }
  EXPECT_NE(read_x(*c.layout, cfg, 0, 0), read_x(*c.layout, cfg, 11, 8));
  c.layout->call(c.function);
  ASSERT_TRUE(f.run().completed);
  ASSERT_TRUE(all_finished(*c.layout));
  for (std::uint32_t k = 0; k < cfg.length; ++k) {
    double sum = 0, mag = 0;
    for (const auto& v : in) sum += v[k], mag += std::abs(v[k]);
    for (int y = 0; y < cfg.height; ++y)
      for (int x = 0; x < cfg.width; ++x)
        ASSERT_NEAR(read_x(*c.layout, cfg, x, y)[k], sum, 1e-5 * mag + 1e-6) << "PE(" << x << "," << y << ") element " << k;
  }
}
