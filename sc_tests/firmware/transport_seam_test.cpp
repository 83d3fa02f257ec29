// Firmware reaches the mesh only through fabric::Transport: a layout loaded through a transport that forwards to a
// Fabric (and counts what it is asked) runs exactly as one loaded onto the Fabric itself.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "fabric/fabric.hpp"
#include "firmware/examples/examples.hpp"

using namespace wafersim;

namespace {
class CountingTransport final : public fabric::Transport {
 public:
  explicit CountingTransport(fabric::Fabric& f) : f_(f) {}
  std::map<std::string, int> calls;

  const hw::ArchParams& arch() const override { return f_.arch(); }
  int width() const override { return f_.width(); }
  int height() const override { return f_.height(); }
  hw::Cycle now() const override { return f_.now(); }
  void set_color_config(int x, int y, hw::Color c, const hw::ColorConfig& cfg) override {
    ++calls["set_color_config"];
    f_.set_color_config(x, y, c, cfg);
  }
  const hw::ColorConfig& color_config(int x, int y, hw::Color c) const override { return f_.color_config(x, y, c); }
  void reconfigure_color(int x, int y, hw::Color c, const hw::ColorConfig& cfg) override {
    ++calls["reconfigure_color"];
    f_.reconfigure_color(x, y, c, cfg);
  }
  void exit_teardown(int x, int y, hw::Color c) override {
    ++calls["exit_teardown"];
    f_.exit_teardown(x, y, c);
  }
  hw::PeQueues& queues(int x, int y) override { return f_.queues(x, y); }
  hw::Sram& sram(int x, int y) override {
    ++calls["sram"];
    return f_.sram(x, y);
  }
  bool has_sram(int x, int y) const override { return f_.has_sram(x, y); }
  void attach_agent(int x, int y, hw::PeAgent* agent, hw::Cycle start) override {
    ++calls["attach_agent"];
    f_.attach_agent(x, y, agent, start);
  }
  void wake(int pe, hw::Cycle at) override {
    ++calls["wake"];
    f_.wake(pe, at);
  }

 private:
  fabric::Fabric& f_;
};

struct PipelineResult {
  std::vector<float> y;
  hw::Cycle cycles = 0;
};
// The row pipeline of P PEs summing their vectors, loaded onto `target` (which drives `f`).
PipelineResult run_pipeline(fabric::Fabric& f, fabric::Transport& target, int P, std::uint32_t n) {
  auto layout = examples::pipeline_layout(P, n);
  layout->load(target);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (int i = 0; i < P; ++i) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    layout->write_symbol(i, 0, "v", v);
  }
  const auto r = f.run();
  EXPECT_TRUE(r.completed);
  return {layout->read_symbol<float>(P - 1, 0, "y"), r.cycles};
}
}  // namespace

TEST(TransportSeam, ALayoutLoadedThroughTheTransportRunsAsOnTheFabricItself) {
  const int P = 5;
  const std::uint32_t n = 16;
  fabric::Fabric direct(hw::ArchParams{}, P, 1);
  const PipelineResult expected = run_pipeline(direct, direct, P, n);

  fabric::Fabric f(hw::ArchParams{}, P, 1);
  CountingTransport seam(f);
  const PipelineResult got = run_pipeline(f, seam, P, n);
  EXPECT_EQ(got.y, expected.y);
  EXPECT_EQ(got.cycles, expected.cycles);
  EXPECT_EQ(f.stats().wavelet_hops, direct.stats().wavelet_hops);
  // One compute engine per PE, one route per colour and PE (the inner PEs use two colours), the symbols written
  // and read through the PEs' SRAM.
  EXPECT_EQ(seam.calls["attach_agent"], P);
  EXPECT_EQ(seam.calls["set_color_config"], 2 * P - 2);
  EXPECT_GE(seam.calls["sram"], P);
}
