// Host worker threads for fork/join jobs: run(job) calls job(0) on the calling thread and job(1..workers) on the
// workers, and returns when all are done, rethrowing the first exception (lowest index first). Used by the fabric
// engine (one job per simulated cycle: workers spin briefly before sleeping) and the CPU oracle's kernels (large,
// rare jobs: workers sleep at once).
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace wafersim {

class WorkerPool {
 public:
  // spin: a worker polls for the next job for a while before sleeping. That pays only when every thread has a
  // core, so it is turned down when the workers outnumber the host's cores.
  explicit WorkerPool(int workers, bool spin = true);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int workers() const { return int(threads_.size()); }
  void run(const std::function<void(int index)>& job);
  // Seconds each thread spent in jobs since the last call (index 0: the calling thread).
  std::vector<double> take_busy();
  // True on a thread that is running a job of some pool (a nested run would wait on itself).
  static bool in_job() { return in_job_; }

 private:
  static void pause();
  void work(int index);
  void guarded(int index);

  const std::function<void(int)>* job_ = nullptr;
  bool spin_ = true;
  int spin_limit_ = 1 << 16;
  std::vector<std::exception_ptr> errors_;
  std::vector<double> busy_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> gen_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // constinit: no dynamic initialisation, so every TU reads the TLS slot directly (no TLS wrapper call, which
  // UBSan in GCC 12 misreports as a null load when the variable is defined in another TU).
  static inline thread_local constinit bool in_job_ = false;
};

}  // namespace wafersim
