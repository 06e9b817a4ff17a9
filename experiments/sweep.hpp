#pragma once
// parallel_for: the sweep points of an experiment on `threads` OpenMP threads, dynamically scheduled. Each
// point writes only its own result slot and draws only from its own random stream, so the results are the
// same for any thread count and any order. The first exception thrown by a point is rethrown after the loop.
#include <cstddef>
#include <exception>
#include <mutex>

#include <omp.h>

namespace tapelab::experiments {

template <class F>
void parallel_for(std::size_t count, int threads, F&& body) {
  std::exception_ptr error;
  std::mutex error_mutex;
  // Kernels below stay single-threaded inside a point (no nested parallel regions): the points are the
  // parallelism, and a tiny GEMM gains nothing from threads.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 0 ? threads : omp_get_max_threads())
  for (std::size_t i = 0; i < count; ++i) {
    {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (error) continue;
    }
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace tapelab::experiments
