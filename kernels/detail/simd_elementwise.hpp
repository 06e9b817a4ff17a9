#pragma once
// Elementwise kernels for one xsimd architecture (see kernels/elementwise.hpp for the contracts).
//
// Each kernel is a batch lambda run over spans by map_span (simd_util.hpp). Operands that are all dense are
// walked as one long row, so a 257 x 3 matrix is vectorised like a 771-element vector. These ops are one
// rounding each (axpy: one FMA where the target has it), so they are memory-bound: no unrolling needed.
// column_sums and row_sums, the gradients of the broadcast adds, live with the reductions
// (simd_reductions.hpp).
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"
#include "kernels/detail/simd_util.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
void simd_fill(index_t r, index_t c, T v, T* y, index_t ldy) {
  const Batch<Arch, T> b(v);
  for_each_span(r, c, dense(r, c, ldy), [&](index_t i, index_t j0, index_t n) {
    map_span<Arch>(
        n, [&] { return b; }, y + i * ldy + j0);
  });
}

template <class Arch, class T>
void simd_copy(index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  if (x == y && ldx == ldy) return;
  for_each_span(r, c, dense(r, c, ldx) && dense(r, c, ldy), [&](index_t i, index_t j0, index_t n) {
    map_span<Arch>(
        n, [](const auto& a) { return a; }, y + i * ldy + j0, x + i * ldx + j0);
  });
}

// y = alpha * x + y
template <class Arch, class T>
void simd_axpy(index_t r, index_t c, T alpha, const T* x, index_t ldx, T* y, index_t ldy) {
  const Batch<Arch, T> a(alpha);
  for_each_span(r, c, dense(r, c, ldx) && dense(r, c, ldy), [&](index_t i, index_t j0, index_t n) {
    T* yi = y + i * ldy + j0;
    map_span<Arch>(
        n, [&](const auto& xv, const auto& yv) { return xsimd::fma(a, xv, yv); }, yi, x + i * ldx + j0,
        static_cast<const T*>(yi));
  });
}

// x = alpha * x
template <class Arch, class T>
void simd_scale(index_t r, index_t c, T alpha, T* x, index_t ldx) {
  const Batch<Arch, T> a(alpha);
  for_each_span(r, c, dense(r, c, ldx), [&](index_t i, index_t j0, index_t n) {
    T* xi = x + i * ldx + j0;
    map_span<Arch>(
        n, [&](const auto& v) { return a * v; }, xi, static_cast<const T*>(xi));
  });
}

// z = op(x, y) for the three binary kernels below.
template <class Arch, class T, class Op>
void binary(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz,
            const Op& op) {
  const bool flat = dense(r, c, ldx) && dense(r, c, ldy) && dense(r, c, ldz);
  for_each_span(r, c, flat, [&](index_t i, index_t j0, index_t n) {
    map_span<Arch>(n, op, z + i * ldz + j0, x + i * ldx + j0, y + i * ldy + j0);
  });
}
template <class Arch, class T>
void simd_add(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  binary<Arch>(r, c, x, ldx, y, ldy, z, ldz, [](const auto& a, const auto& b) { return a + b; });
}
template <class Arch, class T>
void simd_sub(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  binary<Arch>(r, c, x, ldx, y, ldy, z, ldz, [](const auto& a, const auto& b) { return a - b; });
}
template <class Arch, class T>
void simd_hadamard(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z,
                   index_t ldz) {
  binary<Arch>(r, c, x, ldx, y, ldy, z, ldz, [](const auto& a, const auto& b) { return a * b; });
}

// y[i, j] += v[j]: the bias add of a layer; v is re-read per row, so rows are never flattened.
template <class Arch, class T>
void simd_add_row_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) {
    T* yi = y + i * ldy;
    map_span<Arch>(
        c, [](const auto& a, const auto& b) { return a + b; }, yi, static_cast<const T*>(yi), v);
  });
}

// y[i, j] += v[i]
template <class Arch, class T>
void simd_add_col_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) {
    const Batch<Arch, T> b(v[i]);
    T* yi = y + i * ldy;
    map_span<Arch>(
        c, [&](const auto& a) { return a + b; }, yi, static_cast<const T*>(yi));
  });
}

}  // namespace
}  // namespace tapelab::kernels::detail

