// The progress line of long runs: rate-limited on host time (times are given, not waited for), with cycles,
// cycles per second and an ETA when the end is known; and the Wafer's hook that feeds it from the engine.
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "bench/traffic.hpp"
#include "fabric/wafer.hpp"
#include "runtime/progress.hpp"

using wafersim::runtime::Progress;

namespace {

TEST(Progress, NothingBeforeTheFirstDelayThenAtMostOneLinePerInterval) {
  std::ostringstream os;
  Progress p("bench fabric", 10'000'000, os, /*in_place=*/false, 2.0, 5.0);
  p.report_at(0, true, 0.0);
  p.report_at(500'000, true, 1.9);
  EXPECT_EQ(os.str(), "");
  p.report_at(1'000'000, true, 2.0);
  EXPECT_EQ(os.str(), "bench fabric: 1000000 cycles of 10000000 (10%), 500000 cycles/s, ETA 18 s\n");
  p.report_at(2'000'000, true, 6.9);  // within 5 s of the last line
  EXPECT_EQ(p.lines_printed(), 1);
  p.report_at(3'500'000, true, 7.0);
  EXPECT_EQ(p.lines_printed(), 2);
  p.report_at(4'000'000, false, 8.0);  // run over: not in place, nothing to clear
  EXPECT_EQ(p.lines_printed(), 2);
  EXPECT_EQ(os.str().find('\r'), std::string::npos);
}

TEST(Progress, UnknownEndHasNoEtaAndLongEtasAreInMinutesOrHours) {
  std::ostringstream os;
  Progress open("bench allreduce", std::nullopt, os, false);
  open.report_at(0, true, 0.0);
  EXPECT_EQ(open.line(3000, 3.0), "bench allreduce: 3000 cycles, 1000 cycles/s");
  Progress closed("x", 1'000'000, os, false);
  closed.report_at(0, true, 0.0);
  EXPECT_EQ(closed.line(1000, 1.0), "x: 1000 cycles of 1000000 (0%), 1000 cycles/s, ETA 17 min");
  Progress longer("x", 100'000'000, os, false);
  longer.report_at(0, true, 0.0);
  EXPECT_EQ(longer.line(1000, 1.0), "x: 1000 cycles of 100000000 (0%), 1000 cycles/s, ETA 27.8 h");
}

TEST(Progress, OnATerminalTheLineIsRewrittenAndClearedWhenTheRunEnds) {
  std::ostringstream os;
  Progress p("run", std::nullopt, os, /*in_place=*/true, 2.0, 5.0);
  p.report_at(100, true, 0.0);
  p.report_at(300, true, 2.0);
  p.report_at(1100, true, 7.0);
  p.report_at(1200, false, 7.5);
  EXPECT_EQ(os.str(), "\rrun: 300 cycles, 100 cycles/s\x1b[K\rrun: 1100 cycles, 143 cycles/s\x1b[K\r\x1b[K");
}

// The engine reports after each of its steps with the fabric's cycle count, in order, and once more, with
// running = false, when run() returns.
TEST(Progress, WaferReportsEveryEngineStepAndTheEndOfTheRun) {
  using namespace wafersim;
  hw::ArchParams arch;
  fabric::Wafer::set_time_resolution();
  fabric::Fabric fab(arch, 6, 4);
  bench::TrafficConfig cfg;
  cfg.cycles = 400;
  bench::Traffic traffic(fab, cfg);
  fabric::Wafer wafer("wafer", fab);
  std::vector<std::pair<fabric::Cycle, bool>> reports;
  wafer.on_progress([&](fabric::Cycle now, bool running) { reports.emplace_back(now, running); });
  wafer.run(400);
  ASSERT_GE(reports.size(), 3u);
  for (std::size_t i = 0; i + 1 < reports.size(); ++i) {
    EXPECT_TRUE(reports[i].second);
    if (i > 0) {
      EXPECT_GE(reports[i].first, reports[i - 1].first);
    }
  }
  EXPECT_FALSE(reports.back().second);
  EXPECT_EQ(reports.back().first, fab.now());
  EXPECT_GE(fab.now(), 399u);
}

}  // namespace
