#pragma once
// Elementwise kernels over rows x cols row-major matrices with leading dimensions (so column-range views of a
// wider matrix work). In-place use (output == an input, same leading dimension) is allowed.
// Parallel over rows above a size threshold; every element is computed the same way on every thread count.
#include "kernels/common.hpp"

namespace tapelab::kernels {

template <class T> void fill(index_t rows, index_t cols, T value, T* y, index_t ldy);
template <class T> void copy(index_t rows, index_t cols, const T* x, index_t ldx, T* y, index_t ldy);

// y = alpha * x + y
template <class T> void axpy(index_t rows, index_t cols, T alpha, const T* x, index_t ldx, T* y, index_t ldy);
// x = alpha * x
template <class T> void scale(index_t rows, index_t cols, T alpha, T* x, index_t ldx);
// z = x + y,  z = x - y,  z = x * y (Hadamard)
template <class T>
void add(index_t rows, index_t cols, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz);
template <class T>
void sub(index_t rows, index_t cols, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz);
template <class T>
void hadamard(index_t rows, index_t cols, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz);

// Broadcast adds: y[i, j] += v[j] (row vector, cols entries) and y[i, j] += v[i] (column vector, rows entries).
template <class T> void add_row_vector(index_t rows, index_t cols, const T* v, T* y, index_t ldy);
template <class T> void add_col_vector(index_t rows, index_t cols, const T* v, T* y, index_t ldy);

// The gradients of those broadcasts:
//   column_sums: out[j] = beta * out[j] + sum_i x[i, j]   (cols entries)
//   row_sums:    out[i] = beta * out[i] + sum_j x[i, j]   (rows entries)
// beta == 0 never reads out. Summation order is fixed (independent of thread count).
template <class T> void column_sums(index_t rows, index_t cols, const T* x, index_t ldx, T beta, T* out);
template <class T> void row_sums(index_t rows, index_t cols, const T* x, index_t ldx, T beta, T* out);

}  // namespace tapelab::kernels
