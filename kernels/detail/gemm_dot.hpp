#pragma once
// GEMM as blocks of dot products, for C = op(A) * B^T with few rows and columns and a long K: the weight
// gradient of a residual layer, dW (d x d) = dZ (d x B) h^T (B x d), where d is small and the batch B is long.
//
// Here both A's rows and B's rows are contiguous in k, so a 4 x 4 block of C is 16 dot products computed side by
// side: per step, 4 + 4 vector loads feed 16 fused multiply-adds, and nothing is packed. (The packed path would
// first transpose B, which at d = 16 costs as much as the multiplication itself.) Each accumulator is reduced
// across lanes once at the end, in a fixed order: the result does not depend on the thread count.
#include <algorithm>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_util.hpp"  // sum_lanes

namespace tapelab::kernels::detail {
namespace {

// C[0:RI, 0:RJ] = alpha * A[0:RI, 0:K] B[0:RJ, 0:K]^T + beta * C (beta == 0 never reads C).
template <class Arch, class T, int RI, int RJ>
void dot_block(index_t K, const T* __restrict A, index_t lda, const T* __restrict B, index_t ldb, T alpha, T beta,
               T* __restrict C, index_t ldc) {
  using V = xsimd::batch<T, Arch>;
  constexpr index_t W = static_cast<index_t>(V::size);
  V acc[RI][RJ];
#pragma GCC unroll 4
  for (int i = 0; i < RI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RJ; ++j) acc[i][j] = V(T(0));
  index_t k = 0;
  // Each step reads one new cache line of each of the RI + RJ rows; in a deep network's backward these rows
  // (saved activations) come from memory, so ask for the lines kPrefetchAhead steps early.
  constexpr index_t kPrefetchAhead = 8;
  for (; k + W <= K; k += W) {
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i) __builtin_prefetch(A + i * lda + k + kPrefetchAhead * W);
#pragma GCC unroll 4
    for (int j = 0; j < RJ; ++j) __builtin_prefetch(B + j * ldb + k + kPrefetchAhead * W);
    V a[RI], b[RJ];
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i) a[i] = V::load_unaligned(A + i * lda + k);
#pragma GCC unroll 4
    for (int j = 0; j < RJ; ++j) b[j] = V::load_unaligned(B + j * ldb + k);
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < RJ; ++j) acc[i][j] = xsimd::fma(a[i], b[j], acc[i][j]);
  }
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) {
      T s = sum_lanes<Arch, T>(acc[i][j]);  // not xsimd::hadd: see simd_util.hpp
      for (index_t t = k; t < K; ++t) s += A[i * lda + t] * B[j * ldb + t];  // the k tail, in order
      T& out = C[i * ldc + j];
      out = alpha * s + (beta == T(0) ? T(0) : beta * out);
    }
}

// C (M x N) = alpha * A (M x K) * B^T (B stored N x K) + beta * C, by 4 x 4 blocks; edges one element at a time.
template <class Arch, class T>
void gemm_dot(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb, T beta,
              T* C, index_t ldc, bool parallel) {
  const index_t blocks_i = (M + 3) / 4, blocks_j = (N + 3) / 4;
  auto block = [&](index_t b) {
    const index_t i0 = (b / blocks_j) * 4, j0 = (b % blocks_j) * 4;
    const T* a = A + i0 * lda;
    const T* bt = B + j0 * ldb;
    T* c = C + i0 * ldc + j0;
    if (i0 + 4 <= M && j0 + 4 <= N) {
      dot_block<Arch, T, 4, 4>(K, a, lda, bt, ldb, alpha, beta, c, ldc);
      return;
    }
    for (index_t i = 0; i < std::min<index_t>(4, M - i0); ++i)
      for (index_t j = 0; j < std::min<index_t>(4, N - j0); ++j)
        dot_block<Arch, T, 1, 1>(K, a + i * lda, lda, bt + j * ldb, ldb, alpha, beta, c + i * ldc + j, ldc);
  };
  if (parallel) {
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < blocks_i * blocks_j; ++b) block(b);
  } else {
    for (index_t b = 0; b < blocks_i * blocks_j; ++b) block(b);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
