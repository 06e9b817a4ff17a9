#pragma once
// Elementwise kernels for one xsimd architecture (see kernels/elementwise.hpp for the contracts).
// PLACEHOLDER: plain row loops; the vectorised bodies replace these.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T> void simd_fill(index_t r, index_t c, T v, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) y[i * ldy + j] = v; });
}
template <class Arch, class T> void simd_copy(index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) y[i * ldy + j] = x[i * ldx + j]; });
}
template <class Arch, class T>
void simd_axpy(index_t r, index_t c, T alpha, const T* x, index_t ldx, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) y[i * ldy + j] += alpha * x[i * ldx + j]; });
}
template <class Arch, class T> void simd_scale(index_t r, index_t c, T alpha, T* x, index_t ldx) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) x[i * ldx + j] *= alpha; });
}
template <class Arch, class T>
void simd_add(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] + y[i * ldy + j];
  });
}
template <class Arch, class T>
void simd_sub(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] - y[i * ldy + j];
  });
}
template <class Arch, class T>
void simd_hadamard(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] * y[i * ldy + j];
  });
}
template <class Arch, class T> void simd_add_row_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) y[i * ldy + j] += v[j]; });
}
template <class Arch, class T> void simd_add_col_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) { for (index_t j = 0; j < c; ++j) y[i * ldy + j] += v[i]; });
}
template <class Arch, class T>
void simd_column_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  for (index_t j = 0; j < c; ++j) {
    T s = 0;
    for (index_t i = 0; i < r; ++i) s += x[i * ldx + j];
    out[j] = (beta == T(0) ? T(0) : beta * out[j]) + s;
  }
}
template <class Arch, class T> void simd_row_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  for_each_row(r, c, [&](index_t i) {
    T s = 0;
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j];
    out[i] = (beta == T(0) ? T(0) : beta * out[i]) + s;
  });
}

}  // namespace
}  // namespace tapelab::kernels::detail
