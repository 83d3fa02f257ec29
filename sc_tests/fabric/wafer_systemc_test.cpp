// The SystemC face: PEs are named modules users can find, SystemC time follows the clock, and VCD traces of a
// window show the expected per-cycle transitions (parsed back from the file).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fabric/wafer.hpp"
#include "fabric_fixture.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::fabric::testing;
using wafersim::test::TestDir;

namespace {

TEST(WaferModule, EveryPeIsANamedModuleWithRouterAndSramChildren) {
  Fabric f(small_arch(), 4, 3);
  Wafer wafer("wafer", f);
  for (const char* name : {"wafer.pe_0_0", "wafer.pe_3_2", "wafer.pe_1_2.router", "wafer.pe_1_2.sram"})
    EXPECT_NE(sc_core::sc_find_object(name), nullptr) << name;
  EXPECT_EQ(sc_core::sc_find_object("wafer.pe_4_0"), nullptr);
  auto* pe = dynamic_cast<PeModule*>(sc_core::sc_find_object("wafer.pe_2_1"));
  ASSERT_NE(pe, nullptr);
  EXPECT_EQ(pe->x, 2);
  EXPECT_EQ(pe->y, 1);
  EXPECT_EQ(&pe->router.model(), &f.router(2, 1));
}

TEST(WaferModule, SystemCTimeFollowsTheClockAndSkipsIdleCycles) {
  hw::ArchParams a = small_arch();
  a.clock_hz = 1e9;  // 1 ns per cycle
  Fabric f(a, 8, 1);
  route_east(f, 0, 0, 7, 0);
  Drivers drv(f);
  drv.at(0, 0).send(data(1, 0), 2, 1000);  // nothing happens for 1000 cycles
  f.queues(7, 0).bind_input_queue(0, 0);
  drv.at(7, 0).expect(1);
  drv.attach({{0, 0}, {7, 0}});
  Wafer wafer("wafer", f);
  const RunResult r = wafer.run();
  ASSERT_TRUE(r.completed);
  const Cycle arrival = drv.at(7, 0).received().at(0).at;
  EXPECT_EQ(arrival, Cycle(1000 + 2 * 2 + 1 + 7 * 2));
  // SystemC time stops at the arrival or at most one cycle later (the router looks once more at its queues).
  EXPECT_GE(sc_core::sc_time_stamp(), sc_core::sc_time(double(arrival), sc_core::SC_NS));
  EXPECT_LE(sc_core::sc_time_stamp(), sc_core::sc_time(double(arrival + 1), sc_core::SC_NS));
  EXPECT_EQ(r.cycles, arrival + 1);
  EXPECT_LT(f.stats().router_cycles, 100u);  // the idle 1000 cycles cost no router evaluations
}

// Minimal VCD reader: signal name -> list of (time, value) changes.
std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> read_vcd(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::string> id_to_name;
  std::vector<std::string> scope;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> changes;
  std::string tok;
  std::uint64_t t = 0;
  while (in >> tok) {
    if (tok == "$scope") {
      std::string kind, name;
      in >> kind >> name;
      scope.push_back(name);
    } else if (tok == "$upscope") {
      scope.pop_back();
    } else if (tok == "$var") {
      std::string type, width, id, name, rest;
      in >> type >> width >> id >> name;
      while (in >> rest && rest != "$end") {
      }
      std::string full;
      for (const auto& s : scope) full += s + ".";
      id_to_name[id] = full + name;
    } else if (tok[0] == '#') {
      t = std::stoull(tok.substr(1));
    } else if (tok[0] == 'b') {
      std::string id;
      in >> id;
      if (id_to_name.count(id)) changes[id_to_name[id]].push_back({t, tok.substr(1)});
    } else if ((tok[0] == '0' || tok[0] == '1') && tok.size() > 1 && id_to_name.count(tok.substr(1))) {
      changes[id_to_name[tok.substr(1)]].push_back({t, tok.substr(0, 1)});
    }
  }
  return changes;
}

// The names in `dir`, sorted: what a test produced, and nothing else (no temporaries left behind).
std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string find_signal(const std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>>& m,
                        const std::string& suffix) {
  for (const auto& [name, v] : m)
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return name;
  return "";
}

TEST(VcdTrace, ShowsValidColourPayloadAndBackpressurePerCycle) {
  hw::ArchParams a = small_arch();
  a.clock_hz = 1e9;
  Fabric f(a, 4, 2);
  route_east(f, 0, 0, 3, 5);
  route_east(f, 0, 1, 3, 6);  // another row and colour: outside the traced colours
  Drivers drv(f);
  for (int i = 0; i < 3; ++i) drv.at(0, 0).send(data(0xA0 + i, 5), 2);
  drv.at(0, 1).send(data(0xBB, 6), 2);
  f.queues(3, 0).bind_input_queue(0, 5);
  f.queues(3, 1).bind_input_queue(0, 6);
  drv.at(3, 0).expect(3);
  drv.attach({{0, 0}, {3, 0}, {0, 1}, {3, 1}});
  TestDir dir;
  const std::string vcd = (dir / "trace_test.vcd").string();
  Wafer wafer("wafer", f);
  wafer.trace(vcd, 0, 0, 3, 1, {5});
  ASSERT_TRUE(wafer.run().completed);
  // The trace appears when finish_trace() returns, not before (run() may be called again).
  EXPECT_FALSE(std::filesystem::exists(vcd));
  wafer.finish_trace();
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"trace_test.gtkw", "trace_test.vcd"}));
  const auto changes = read_vcd(vcd);
  const std::string valid = find_signal(changes, "pe_1_0.E.valid");
  const std::string payload = find_signal(changes, "pe_1_0.E.payload");
  ASSERT_FALSE(valid.empty());
  ASSERT_FALSE(payload.empty());
  // Source router sends at ramp + router = 3, 4, 5; PE 1 forwards one hop (2 cycles) later: 5, 6, 7.
  std::vector<std::pair<std::uint64_t, std::string>> rises;
  for (const auto& [t, v] : changes.at(valid)) rises.push_back({t / 1000, v});  // ps -> cycles
  ASSERT_GE(rises.size(), 2u);
  const auto first_one = std::find_if(rises.begin(), rises.end(), [](auto& p) { return p.second == "1"; });
  ASSERT_NE(first_one, rises.end());
  EXPECT_EQ(first_one->first, 5u);
  const auto fall = std::find_if(first_one, rises.end(), [](auto& p) { return p.second == "0"; });
  ASSERT_NE(fall, rises.end());
  EXPECT_EQ(fall->first, 8u);  // three back-to-back cycles of valid
  // Payload changes carry the values 0xA0, 0xA1, 0xA2 at cycles 5, 6, 7.
  std::vector<std::pair<std::uint64_t, unsigned long>> pay;
  for (const auto& [t, v] : changes.at(payload)) pay.push_back({t / 1000, std::stoul(v, nullptr, 2)});
  std::vector<std::pair<std::uint64_t, unsigned long>> want = {{5, 0xA0}, {6, 0xA1}, {7, 0xA2}};
  for (const auto& w : want) EXPECT_NE(std::find(pay.begin(), pay.end(), w), pay.end()) << w.first << " " << w.second;
  // Colour 6 (row 1) is not traced: its links never become valid.
  const std::string other = find_signal(changes, "pe_1_1.E.valid");
  ASSERT_FALSE(other.empty());
  for (const auto& [t, v] : changes.at(other)) EXPECT_EQ(v, "0");
  // GTKWave save file beside it, grouped by PE.
  std::ifstream gtkw(dir / "trace_test.gtkw");
  std::stringstream ss;
  ss << gtkw.rdbuf();
  EXPECT_NE(ss.str().find("-pe_1_0"), std::string::npos);
  EXPECT_NE(ss.str().find("pe_1_0.E.payload"), std::string::npos);
}

TEST(VcdTrace, BackpressureIsVisibleWhereTheReceiverIsSlow) {
  hw::ArchParams a = small_arch();
  a.clock_hz = 1e9;
  Fabric f(a, 2, 1);
  route_east(f, 0, 0, 1, 5);
  Drivers drv(f);
  for (int i = 0; i < 12; ++i) drv.at(0, 0).send(data(i, 5), 2);
  f.queues(1, 0).bind_input_queue(4, 5);  // 2-word IQ
  drv.at(1, 0).consume_every(20);
  drv.at(1, 0).expect(12);
  drv.attach({{0, 0}, {1, 0}});
  TestDir dir;
  const std::string vcd = (dir / "bp_test.vcd").string();
  Wafer wafer("wafer", f);
  wafer.trace(vcd, 1, 0, 1, 0, {});
  ASSERT_TRUE(wafer.run().completed);
  wafer.finish_trace();
  const auto changes = read_vcd(vcd);
  const std::string bp = find_signal(changes, "pe_1_0.RAMP.backpressure");
  ASSERT_FALSE(bp.empty());
  int ones = 0;
  for (const auto& [t, v] : changes.at(bp)) ones += v == "1";
  EXPECT_GT(ones, 3);
}

TEST(VcdTrace, SpansEveryRunUntilFinished) {
  hw::ArchParams a = small_arch();
  a.clock_hz = 1e9;
  Fabric f(a, 2, 1);
  route_east(f, 0, 0, 1, 5);
  Drivers drv(f);
  drv.at(0, 0).send(data(0x11, 5), 2);
  f.queues(1, 0).bind_input_queue(0, 5);
  drv.attach({{0, 0}, {1, 0}});
  TestDir dir;
  const std::string vcd = (dir / "two_runs.vcd").string();
  Wafer wafer("wafer", f);
  wafer.trace(vcd, 0, 0, 1, 0, {});
  ASSERT_TRUE(wafer.run().completed);
  const Cycle second = f.now() + 50;
  drv.at(0, 0).send(data(0x22, 5), 2, second);
  f.wake(f.index(0, 0), f.now() + 1);
  ASSERT_TRUE(wafer.run().completed);
  wafer.finish_trace();
  const auto changes = read_vcd(vcd);
  const std::string payload = find_signal(changes, "pe_0_0.E.payload");
  ASSERT_FALSE(payload.empty());
  std::vector<unsigned long> values;
  std::uint64_t last_t = 0;
  for (const auto& [t, v] : changes.at(payload)) {
    values.push_back(std::stoul(v, nullptr, 2));
    last_t = t / 1000;
  }
  // Both runs' wavelets are in the one file, the second one after its release cycle.
  EXPECT_NE(std::find(values.begin(), values.end(), 0x11ul), values.end());
  EXPECT_EQ(values.back(), 0x22ul);
  EXPECT_GE(last_t, second);
}

TEST(VcdTrace, AnUnfinishedTraceIsRemovedWithAWarning) {
  Fabric f(small_arch(), 2, 1);
  route_east(f, 0, 0, 1, 5);
  Drivers drv(f);
  drv.at(0, 0).send(data(0x11, 5), 2);
  f.queues(1, 0).bind_input_queue(0, 5);
  drv.attach({{0, 0}, {1, 0}});
  TestDir dir;
  const std::string vcd = (dir / "abandoned.vcd").string();
  ::testing::internal::CaptureStderr();
  {
    Wafer wafer("wafer", f);
    wafer.trace(vcd, 0, 0, 1, 0, {});
    ASSERT_TRUE(wafer.run().completed);
    EXPECT_EQ(listing(dir.path()).size(), 1u);  // the temporary being written
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(listing(dir.path()).empty());
  EXPECT_NE(err.find("warning: VCD trace " + vcd + " not written"), std::string::npos) << err;
}

TEST(VcdTrace, AnUnwritablePlaceFailsWhenTracingStarts) {
  Fabric f(small_arch(), 2, 1);
  TestDir dir;
  Wafer wafer("wafer", f);
  const std::string missing = (dir / "no" / "t.vcd").string();
  try {
    wafer.trace(missing, 0, 0, 1, 0, {});
    FAIL() << "tracing into a missing directory started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  std::filesystem::create_directory(dir / "t.vcd");
  EXPECT_THROW(wafer.trace((dir / "t.vcd").string(), 0, 0, 1, 0, {}), std::runtime_error);
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"t.vcd"}));
}

}  // namespace

namespace {

TEST(WaferModule, RunsAgainAfterTheHostQueuesMoreWork) {
  hw::ArchParams a = small_arch();
  a.clock_hz = 1e9;
  Fabric f(a, 4, 1);
  route_east(f, 0, 0, 3, 2);
  Drivers drv(f);
  drv.at(0, 0).send(data(1, 2), 2);
  f.queues(3, 0).bind_input_queue(0, 2);
  drv.attach({{0, 0}, {3, 0}});
  Wafer wafer("wafer", f);
  ASSERT_TRUE(wafer.run().completed);
  const sc_core::sc_time first = sc_core::sc_time_stamp();
  ASSERT_EQ(drv.at(3, 0).received().size(), 1u);
  // The host queues another wavelet and runs again: SystemC time continues from where it stopped.
  drv.at(0, 0).send(data(2, 2), 2, f.now() + 10);
  f.wake(f.index(0, 0), f.now() + 1);
  ASSERT_TRUE(wafer.run().completed);
  ASSERT_EQ(drv.at(3, 0).received().size(), 2u);
  EXPECT_EQ(drv.at(3, 0).received()[1].w.payload, 2u);
  EXPECT_GT(sc_core::sc_time_stamp(), first);
  const double arrival = double(drv.at(3, 0).received()[1].at);
  EXPECT_GE(sc_core::sc_time_stamp(), sc_core::sc_time(arrival, sc_core::SC_NS));
  EXPECT_LE(sc_core::sc_time_stamp(), sc_core::sc_time(arrival + 1, sc_core::SC_NS));
}

}  // namespace
