#include "common/worker_pool.hpp"

#include <algorithm>
#include <chrono>

namespace wafersim {


WorkerPool::WorkerPool(int workers, bool spin) {
  spin_ = spin;
  spin_limit_ = !spin ? 1 : unsigned(workers) < std::max(1u, std::thread::hardware_concurrency()) ? 1 << 16 : 16;
  busy_.assign(workers + 1, 0.0);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work(i + 1); });
}

WorkerPool::~WorkerPool() {
  stop_ = true;
  gen_.fetch_add(1, std::memory_order_release);
  gen_.notify_all();
  for (auto& t : threads_) t.join();
}

std::vector<double> WorkerPool::take_busy() {
  std::vector<double> b = busy_;
  std::fill(busy_.begin(), busy_.end(), 0.0);
  return b;
}

void WorkerPool::run(const std::function<void(int)>& job) {
  job_ = &job;
  errors_.assign(threads_.size() + 1, nullptr);
  pending_.store(int(threads_.size()), std::memory_order_relaxed);
  gen_.fetch_add(1, std::memory_order_release);
  gen_.notify_all();
  guarded(0);
  if (spin_) {
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;) {
      if (++spins < spin_limit_) pause();
      else std::this_thread::yield();
    }
  } else {
    for (int p; (p = pending_.load(std::memory_order_acquire)) != 0;) pending_.wait(p, std::memory_order_acquire);
  }
  for (const auto& e : errors_)
    if (e) std::rethrow_exception(e);
}

void WorkerPool::pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void WorkerPool::work(int index) {
  std::uint64_t seen = 0;
  while (true) {
    std::uint64_t g;
    for (int spins = 0; (g = gen_.load(std::memory_order_acquire)) == seen;) {
      if (++spins < spin_limit_) pause();
      else gen_.wait(seen, std::memory_order_acquire);
    }
    seen = g;
    if (stop_) return;
    guarded(index);
    if (pending_.fetch_sub(1, std::memory_order_release) == 1 && !spin_) pending_.notify_one();
  }
}

void WorkerPool::guarded(int index) {
  const auto start = std::chrono::steady_clock::now();
  const bool outer = in_job_;
  in_job_ = true;
  try {
    (*job_)(index);
  } catch (...) {
    errors_[index] = std::current_exception();
  }
  in_job_ = outer;
  busy_[index] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace wafersim
