// The timing-only paths' on-disk cache (runtime/timing_cache.hpp): the directory follows the environment, an entry
// written is read back only under its whole key, and an empty directory disables the cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "runtime/timing_cache.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;

TEST(TimingCache, DirFollowsTheEnvironment) {
  ::setenv("WAFERSIM_CACHE_DIR", "/tmp/a", 1);
  ::setenv("XDG_CACHE_HOME", "/tmp/x", 1);
  EXPECT_EQ(runtime::timing_cache_dir(), "/tmp/a");
  ::unsetenv("WAFERSIM_CACHE_DIR");
  EXPECT_EQ(runtime::timing_cache_dir(), "/tmp/x/wafersim");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(runtime::timing_cache_dir(), "/home/u/.cache/wafersim");
}

TEST(TimingCache, HitsOnlyTheWholeKey) {
  test::TestDir dir;
  const runtime::TimingCache cache(dir.path() / "c", "unit");
  EXPECT_FALSE(cache.get("{\"a\":1}").has_value());
  cache.put("{\"a\":1}", 1234);
  EXPECT_EQ(cache.get("{\"a\":1}"), 1234u);
  EXPECT_FALSE(cache.get("{\"a\":2}").has_value());
  EXPECT_FALSE(runtime::TimingCache(dir.path() / "c", "other").get("{\"a\":1}").has_value());
  // A corrupt entry is a miss.
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "c")) std::ofstream(e.path()) << "{bad";
  EXPECT_FALSE(cache.get("{\"a\":1}").has_value());
  const runtime::TimingCache none({}, "unit");
  none.put("k", 1);
  EXPECT_FALSE(none.get("k").has_value());
}

// The arch part of a key leaves out the host-only settings (simulation.*) and the source file, not the hardware.
TEST(TimingCache, ArchKeyIgnoresHostSettings) {
  hw::ArchParams one, two;
  one.simulation.host_threads = 1;
  two.simulation.host_threads = 2;
  two.simulation.cycle_block = 1;
  two.simulation.huge_pages = 0;
  two.source = "configs/wse2.yaml";
  EXPECT_EQ(runtime::timing_arch_key(one).dump(), runtime::timing_arch_key(two).dump());
  EXPECT_FALSE(runtime::timing_arch_key(one).contains("simulation"));
  two.router.link_latency = one.router.link_latency + 1;
  EXPECT_NE(runtime::timing_arch_key(one).dump(), runtime::timing_arch_key(two).dump());
}
