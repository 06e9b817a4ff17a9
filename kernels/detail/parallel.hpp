#pragma once
// OpenMP helpers shared by the kernels. Work is split by output rows (or output tiles), never along a sum, so
// every output element is computed by exactly one thread in exactly the same order: results are bitwise
// identical for any thread count. Small jobs stay serial: waking a thread team costs a few microseconds.
#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

// Elementwise work below this many elements runs serially.
constexpr index_t kParallelElements = index_t(1) << 16;

// Calls body(i) for i in [0, rows); in parallel over rows when rows * cols is large enough.
template <class Body>
void for_each_row(index_t rows, index_t cols, Body&& body) {
  if (rows > 1 && rows * cols >= kParallelElements) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < rows; ++i) body(i);
  } else {
    for (index_t i = 0; i < rows; ++i) body(i);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
