#pragma once
// Full reductions of rows x cols matrices. Deterministic: the summation tree depends only on the shape and the
// dispatch target, never on the thread count (rows are cut into fixed chunks whose partial sums are added in
// order).
#include "kernels/common.hpp"

namespace tapelab::kernels {

template <class T> T sum(index_t rows, index_t cols, const T* x, index_t ldx);
template <class T> T dot(index_t rows, index_t cols, const T* x, index_t ldx, const T* y, index_t ldy);
// sum_ij x_ij^2
template <class T> T squared_norm(index_t rows, index_t cols, const T* x, index_t ldx);
// max_ij |x_ij|; NaN if any entry is NaN (so a NaN never hides behind a max).
template <class T> T max_abs(index_t rows, index_t cols, const T* x, index_t ldx);

}  // namespace tapelab::kernels
