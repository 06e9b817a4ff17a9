#pragma once
// GEMM with one row or one column (GEMV): C = alpha * op(A) * op(B) + beta * C with M == 1 or N == 1.
//
// A network run on one input at a time (P5's scaling experiments draw a fresh network per sample) multiplies
// every weight matrix by a single column. The register-tiled micro-kernel would fill one lane of each NR-wide
// vector; instead each case becomes one of two vector loops, chosen by which operand's rows are contiguous:
//   dots:  out[r] = sum_k rows[r][k] x[k]     rows contiguous in k  (N == 1 with op(A) = A; M == 1 with op(B) = B^T)
//   axpys: out[r] = sum_k coef[k] rows[k][r]  rows contiguous in r  (N == 1 with op(A) = A^T; M == 1 with op(B) = B)
// Both sum k in a fixed order (lanes reduced by sum_lanes at the end), so results never depend on threads.
#include <algorithm>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_util.hpp"  // sum_lanes

namespace tapelab::kernels::detail {
namespace {

template <class T>
void store_scaled(T* out, T alpha, T s, T beta) {
  *out = alpha * s + (beta == T(0) ? T(0) : beta * *out);
}

// out[r * ldo] = alpha * dot(rows + r * ldr, x) + beta * out[r * ldo] for r < R; x contiguous.
template <class Arch, class T>
void gemv_dots(index_t R, index_t K, const T* rows, index_t ldr, const T* x, T alpha, T beta, T* out, index_t ldo) {
  using V = xsimd::batch<T, Arch>;
  constexpr index_t W = static_cast<index_t>(V::size);
  index_t r = 0;
  for (; r + 4 <= R; r += 4) {  // four rows share each load of x
    V acc[4] = {V(T(0)), V(T(0)), V(T(0)), V(T(0))};
    index_t k = 0;
    for (; k + W <= K; k += W) {
      const V xv = V::load_unaligned(x + k);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[i] = xsimd::fma(V::load_unaligned(rows + (r + i) * ldr + k), xv, acc[i]);
    }
    for (int i = 0; i < 4; ++i) {
      T s = sum_lanes<Arch, T>(acc[i]);
      for (index_t t = k; t < K; ++t) s += rows[(r + i) * ldr + t] * x[t];
      store_scaled(out + (r + i) * ldo, alpha, s, beta);
    }
  }
  for (; r < R; ++r) {
    V acc(T(0));
    index_t k = 0;
    for (; k + W <= K; k += W) acc = xsimd::fma(V::load_unaligned(rows + r * ldr + k), V::load_unaligned(x + k), acc);
    T s = sum_lanes<Arch, T>(acc);
    for (index_t t = k; t < K; ++t) s += rows[r * ldr + t] * x[t];
    store_scaled(out + r * ldo, alpha, s, beta);
  }
}

// out[r * ldo] = alpha * sum_k coef[k * ldc] rows[k * ldr + r] + beta * out[r * ldo] for r < R. Columns are taken
// four vectors at a time so the accumulators stay in registers over the whole k loop.
template <class Arch, class T>
void gemv_axpys(index_t R, index_t K, const T* rows, index_t ldr, const T* coef, index_t ldc, T alpha, T beta, T* out,
                index_t ldo) {
  using V = xsimd::batch<T, Arch>;
  constexpr index_t W = static_cast<index_t>(V::size), kBlock = 4 * W;
  index_t r = 0;
  for (; r + kBlock <= R; r += kBlock) {
    V acc[4] = {V(T(0)), V(T(0)), V(T(0)), V(T(0))};
    for (index_t k = 0; k < K; ++k) {
      const V c(coef[k * ldc]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v] = xsimd::fma(V::load_unaligned(rows + k * ldr + r + v * W), c, acc[v]);
    }
    alignas(64) T sums[kBlock];
    for (int v = 0; v < 4; ++v) acc[v].store_aligned(sums + v * W);
    for (index_t i = 0; i < kBlock; ++i) store_scaled(out + (r + i) * ldo, alpha, sums[i], beta);
  }
  for (; r + W <= R; r += W) {
    V acc(T(0));
    for (index_t k = 0; k < K; ++k) acc = xsimd::fma(V::load_unaligned(rows + k * ldr + r), V(coef[k * ldc]), acc);
    alignas(64) T sums[W];
    acc.store_aligned(sums);
    for (index_t i = 0; i < W; ++i) store_scaled(out + (r + i) * ldo, alpha, sums[i], beta);
  }
  for (; r < R; ++r) {
    T s = T(0);
    for (index_t k = 0; k < K; ++k) s += coef[k * ldc] * rows[k * ldr + r];
    store_scaled(out + r * ldo, alpha, s, beta);
  }
}

// C = alpha op(A) op(B) + beta C for M == 1 or N == 1 (K >= 1). `scratch` holds K elements (a strided x is
// copied there so the dot loop can load it as vectors).
template <class Arch, class T>
void gemm_gemv(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
               index_t ldb, T beta, T* C, index_t ldc, T* scratch) {
  auto contiguous = [&](const T* v, index_t stride) {
    if (stride == 1) return v;
    for (index_t k = 0; k < K; ++k) scratch[k] = v[k * stride];
    return static_cast<const T*>(scratch);
  };
  if (N == 1) {
    // x[k] = op(B)[k, 0]: B[k * ldb] (B is K x 1) or B[k] (B^T, B is 1 x K).
    const index_t x_stride = tb == Trans::N ? ldb : 1;
    if (ta == Trans::N)  // y[i] = A[i, :] . x
      gemv_dots<Arch, T>(M, K, A, lda, contiguous(B, x_stride), alpha, beta, C, ldc);
    else  // y[i] = sum_k x[k] A[k, i]
      gemv_axpys<Arch, T>(M, K, A, lda, B, x_stride, alpha, beta, C, ldc);
    return;
  }
  // M == 1: a[k] = op(A)[0, k]: A[k] (A is 1 x K) or A[k * lda] (A^T, A is K x 1).
  const index_t a_stride = ta == Trans::N ? 1 : lda;
  if (tb == Trans::N)  // y[j] = sum_k a[k] B[k, j]
    gemv_axpys<Arch, T>(N, K, B, ldb, A, a_stride, alpha, beta, C, 1);
  else  // y[j] = B[j, :] . a
    gemv_dots<Arch, T>(N, K, B, ldb, contiguous(A, a_stride), alpha, beta, C, 1);
}

}  // namespace
}  // namespace tapelab::kernels::detail
