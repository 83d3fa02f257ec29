// The DSD cost model (docs/firmware.md): DSR loads, per-operation issue, SIMD chunks, @map loops, FP pipeline
// latency. The WSE-3 preset reproduces the SDK-simulator @map sweep of docs/timing-evidence.md 4.4 (the fit of
// pe.dsd_issue_cycles, pe.simd_chunk_cycles and pe.map_element_cycles); results of the loop are exact.
#include <gtest/gtest.h>

#include <cmath>

#include "hw/arch_params.hpp"
#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using csl::f16;
using csl::mem1d;
using test::SinglePe;

namespace {
hw::ArchParams preset(const char* name) {
  return hw::load_arch(std::string(WAFERSIM_SOURCE_DIR) + "/configs/" + name + ".yaml");
}

// The inner loop of the WaferLLM col-major MeshGEMM kernel (timing-evidence 4.4): for each of kt steps, three DSR
// loads and an @map over nt elements whose callback issues one fmach of mt fp16: y += A[:, j] * x[j].
struct MapGemv : test::OpenProgram {
  static constexpr std::uint32_t kt = 8, nt = 8, kMaxMt = 16;
  std::uint32_t mt;
  csl::Array<f16> y{this, "y", kMaxMt};
  csl::Array<f16> pad{this, "pad", 1};  // A starts 4 bytes off a multiple of 8 from y: no bank conflict
  csl::Array<f16> a{this, "a", nt * kMaxMt};
  csl::Array<f16> x{this, "x", nt};
  hw::Cycle cycles = 0;
  csl::LocalTask t{this, 10, [this] {  // WSE-3 local task IDs start at 8
                     const hw::Cycle t0 = now();
                     for (std::uint32_t k = 0; k < kt; ++k) {
                       csl::Dsr yd = load_dsr(mem1d(y, {.extent = mt}));
                       csl::Dsr ys = load_dsr(mem1d(y, {.extent = mt}));
                       csl::Dsr ad = load_dsr(mem1d(a, {.extent = mt}));
                       map_loop(nt, [&](std::uint32_t j) {
                         fmach(yd, ys, ad, csl::scalar(x, j));
                         ad.advance(std::int32_t(mt));
                       });
                     }
                     cycles = now() - t0;
                   }};
  explicit MapGemv(std::uint32_t m) : mt(m) {}
  void init() override { activate(t); }
};

hw::Cycle run_map(const hw::ArchParams& arch, std::uint32_t mt, std::vector<float>* y_out = nullptr) {
  SinglePe pe(true, arch);
  MapGemv p(mt);
  pe.load(p);
  std::vector<f16> a(MapGemv::nt * MapGemv::kMaxMt), x(MapGemv::nt);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = f16(float(i % 5) - 2.0f);
  for (std::size_t j = 0; j < x.size(); ++j) x[j] = f16(0.5f * float(j));
  p.a.write(a);
  p.x.write(x);
  pe.run();
  if (y_out) {
    y_out->clear();
    for (std::uint32_t i = 0; i < mt; ++i) y_out->push_back(float(p.y.get(i)));
  }
  return p.cycles;
}
}  // namespace

TEST(MapLoop, Wse3PresetReproducesTheSimulatorSweep) {
  // Measured cycles per map element (SDK simulator, --arch=wse3; timing-evidence 4.4): 8.31 (mt 1), 8.36 (mt 8),
  // 10.42 (mt 16). Model: 3 DSR loads per k + per element map + issue + chunk * ceil(mt / 8).
  const hw::ArchParams wse3 = preset("wse3");
  const auto& pe = wse3.pe;
  const double elems = MapGemv::kt * MapGemv::nt;
  for (auto [mt, measured] : {std::pair{1u, 8.31}, {8u, 8.36}, {16u, 10.42}}) {
    const hw::Cycle chunks = (mt + 7) / 8;
    const hw::Cycle want = MapGemv::kt * 3 * pe.dsr_load_cycles +
                           hw::Cycle(elems) * (pe.map_element_cycles + pe.dsd_issue_cycles + chunks * pe.simd_chunk_cycles);
    const hw::Cycle got = run_map(wse3, mt);
    EXPECT_EQ(got, want) << "mt " << mt;
    EXPECT_NEAR(double(got) / elems, measured, 0.02 * measured) << "mt " << mt;
  }
}

TEST(MapLoop, Wse2UsesFourLaneChunksAndTheResultIsExact) {
  const hw::ArchParams wse2 = preset("wse2");
  const auto& pe = wse2.pe;
  for (std::uint32_t mt : {1u, 4u, 12u, 16u}) {
    std::vector<float> y;
    const hw::Cycle chunks = (mt + 3) / 4;
    EXPECT_EQ(run_map(wse2, mt, &y), MapGemv::kt * 3 * pe.dsr_load_cycles +
                                         MapGemv::kt * MapGemv::nt *
                                             (pe.map_element_cycles + pe.dsd_issue_cycles + chunks * pe.simd_chunk_cycles))
        << "mt " << mt;
    // CPU oracle: the same fp16 fmach sequence (each multiply-add rounded to fp16 twice, as fmach does).
    std::vector<f16> acc(mt, f16(0.0f));
    for (std::uint32_t k = 0; k < MapGemv::kt; ++k)
      for (std::uint32_t j = 0; j < MapGemv::nt; ++j)
        for (std::uint32_t i = 0; i < mt; ++i) {
          const f16 av(float((j * mt + i) % 5) - 2.0f), xv(0.5f * float(j));
          acc[i] = f16(float(acc[i]) + float(f16(float(av) * float(xv))));
        }
    for (std::uint32_t i = 0; i < mt; ++i) EXPECT_EQ(y[i], float(acc[i])) << "mt " << mt << " i " << i;
  }
}

TEST(MapLoop, TaskIssuedOperationsLoadEachDsdOperand) {
  // The same fmach issued from a task body with plain DSDs pays a load per DSD operand (dest, src0, src1; the
  // scalar pointer is not a DSD), plus issue and chunks; with Dsr operands only issue and chunks.
  struct P : test::OpenProgram {
    csl::Array<f16> y{this, "y", 8}, pad{this, "pad", 1}, a{this, "a", 8};
    csl::Var<f16> s{this, "s"};
    hw::Cycle plain = 0, in_dsr = 0;
    csl::LocalTask t{this, 1, [this] {
                       hw::Cycle t0 = now();
                       fmach(y, y, a, &s);
                       plain = now() - t0;
                       csl::Dsr yd = load_dsr(mem1d(y)), ad = load_dsr(mem1d(a));
                       t0 = now();
                       fmach(yd, yd, ad, &s);
                       in_dsr = now() - t0;
                     }};
    void init() override { activate(t); }
  } p;
  SinglePe pe;
  pe.load(p);
  pe.run();
  const auto& a = pe.arch.pe;
  EXPECT_EQ(p.plain, 3 * a.dsr_load_cycles + a.dsd_issue_cycles + 2 * a.simd_chunk_cycles);
  EXPECT_EQ(p.in_dsr, a.dsd_issue_cycles + 2 * a.simd_chunk_cycles);
}

TEST(MapLoop, FpPipelineLatencyIsChargedPerStreamedOperation) {
  hw::ArchParams arch;
  arch.pe.fp_pipeline_latency = 5;
  struct P : test::OpenProgram {
    csl::Array<float> v{this, "v", 10}, pad{this, "pad", 1}, w{this, "w", 10};
    hw::Cycle cycles = 0;
    csl::LocalTask t{this, 1, [this] {
                       const hw::Cycle t0 = now();
                       fadds(v, v, w);
                       fadds(v, v, w);
                       cycles = now() - t0;
                     }};
    void init() override { activate(t); }
  } p;
  SinglePe pe(true, arch);
  pe.load(p);
  pe.run();
  const auto& a = arch.pe;
  EXPECT_EQ(p.cycles, 2 * (3 * a.dsr_load_cycles + a.dsd_issue_cycles + 5 * a.simd_chunk_cycles + 5));
}
