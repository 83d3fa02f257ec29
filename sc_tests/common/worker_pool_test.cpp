// The host worker pool shared by the fabric engine and the CPU oracle: every index runs once per job, the first
// failure (lowest index) comes back to the caller, and a job knows it runs inside a pool.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/worker_pool.hpp"

using wafersim::WorkerPool;

namespace {
void runs_every_index_once(bool spin) {
  WorkerPool pool(3, spin);
  EXPECT_EQ(pool.workers(), 3);
  for (int job = 0; job < 50; ++job) {
    std::vector<std::atomic<int>> hits(4);
    pool.run([&](int i) { hits[i].fetch_add(1); });
    for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << "job " << job;
  }
}
}  // namespace

TEST(WorkerPool, EveryIndexRunsOncePerJobSpinningOrSleeping) {
  runs_every_index_once(true);
  runs_every_index_once(false);
}

TEST(WorkerPool, TheLowestIndexFailureIsRethrownAfterAllFinished) {
  WorkerPool pool(3);
  std::atomic<int> finished{0};
  try {
    pool.run([&](int i) {
      ++finished;
      if (i == 1 || i == 3) throw std::runtime_error("job " + std::to_string(i));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "job 1");
  }
  EXPECT_EQ(finished.load(), 4);
  std::atomic<int> after{0};
  pool.run([&](int) { ++after; });  // the pool still works
  EXPECT_EQ(after.load(), 4);
}

TEST(WorkerPool, JobsKnowTheyRunInAPoolAndBusyTimeIsPerThread) {
  WorkerPool pool(1, false);
  EXPECT_FALSE(WorkerPool::in_job());
  std::vector<int> inside(2, 0);
  pool.run([&](int i) { inside[i] = WorkerPool::in_job(); });
  EXPECT_EQ(inside, (std::vector<int>{1, 1}));
  EXPECT_FALSE(WorkerPool::in_job());
  const std::vector<double> busy = pool.take_busy();
  ASSERT_EQ(busy.size(), 2u);
  EXPECT_GE(busy[0], 0.0);
  EXPECT_EQ(pool.take_busy(), (std::vector<double>{0.0, 0.0}));  // taken
}
