// OpenMP is the only thread pool of this backend (oneDNN 2.6 on Debian runs on libgomp, and a
// second pool spinning beside it costs 100×: ../shared/docs/reference/cpu-onednn-note.md §2).
// These helpers wrap the few patterns the kernels use, and add two things raw pragmas lack:
//  - small jobs stay on the calling thread (waking the team costs microseconds), and a job
//    started inside a parallel region never opens a nested one;
//  - an exception thrown by a worker is carried out of the region and rethrown on the caller
//    (one escaping a region would terminate the process).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>

namespace fathom::cpu {

class ErrorSlot {
 public:
  template <typename F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

// How many threads a job of `work` units should use when each thread should get at least
// `min_work` of them (e.g. bytes of weights, multiply-adds).
inline int threads_for(int max_threads, double work, double min_work) {
  if (omp_in_parallel() || max_threads <= 1) return 1;
  const double t = min_work > 0 ? work / min_work : max_threads;
  return static_cast<int>(std::clamp(t, 1.0, static_cast<double>(max_threads)));
}

// f(begin, end) on `threads` contiguous, nearly equal parts of [0, n), each a multiple of
// `align` (but the last).
template <typename F>
void parallel_ranges(int64_t n, int threads, int64_t align, F&& f) {
  if (n <= 0) return;
  const int64_t units = (n + align - 1) / align;
  threads = static_cast<int>(std::min<int64_t>(threads, units));
  if (threads <= 1) {
    f(int64_t{0}, n);
    return;
  }
  ErrorSlot errors;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = std::min(n, units * t / nt * align), end = std::min(n, units * (t + 1) / nt * align);
    if (begin < end) errors.run([&] { f(begin, end); });
  }
  errors.rethrow();
}

// f(i) for i in [0, n), handed out one at a time to `threads` threads (for uneven items).
template <typename F>
void parallel_items(int64_t n, int threads, F&& f) {
  if (n <= 0) return;
  threads = static_cast<int>(std::min<int64_t>(threads, n));
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  ErrorSlot errors;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) errors.run([&] { f(i); });
  errors.rethrow();
}

}  // namespace fathom::cpu
