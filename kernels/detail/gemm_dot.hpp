#pragma once
// GEMM as blocks of dot products, for C = op(A) * B^T with few rows and columns and a long K: the weight
// gradient of a residual layer, dW (d x d) = dZ (d x B) h^T (B x d), where d is small and the batch B is long.
//
// Here both A's rows and B's rows are contiguous in k, so a 4 x 4 block of C is 16 dot products computed side
// by side: per step, 4 + 4 vector loads feed 16 fused multiply-adds, and nothing is packed (3 x 4 blocks on
// AVX2). (The packed path would first transpose B, which at d = 16 costs as much as the multiplication
// itself.) Each accumulator is reduced across lanes once at the end, in a fixed order: the result does not
// depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_util.hpp"  // sum_lanes

namespace tapelab::kernels::detail {
namespace {

// AVX-512: the 16 accumulators of a 4 x 4 block reduced together, C block written by rows. Each sum is the
// same halving tree as sum_lanes (lane k += lane k + W/2, ..., so the same bits), but each level's shuffles
// and adds serve two to sixteen accumulators at once: 30 shuffles and 15 adds for the block, against 16
// reductions of 8 operations each (on an Intel Xeon, 60% of a 16 x 16 x 256 weight gradient's time went to
// reducing one accumulator at a time). acc[i][j] is C[i][j]'s partial sums; C[i][j] = alpha sum + beta
// C[i][j].
template <class Arch>
void reduce_store_4x4(const __m512 (&acc)[4][4], float alpha, float beta, float* c, index_t ldc) {
  // Level k += k + 8 pairs in[2p], in[2p+1]; the order of `in` puts C[i][j] in lane 4 i + j of the result.
  __m512 in[16];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) in[i + 4 * j] = acc[i][j];
  __m512 r[8], t[4], u[2];
  for (int p = 0; p < 8; ++p)  // lanes 0-7: in[2p] folded to 8 lanes; 8-15: in[2p + 1]
    r[p] = _mm512_add_ps(_mm512_shuffle_f32x4(in[2 * p], in[2 * p + 1], 0x44),
                         _mm512_shuffle_f32x4(in[2 * p], in[2 * p + 1], 0xEE));
  for (int q = 0; q < 4; ++q)  // k += k + 4: 128-bit chunk c holds in[4q + c] folded to 4 lanes
    t[q] = _mm512_add_ps(_mm512_shuffle_f32x4(r[2 * q], r[2 * q + 1], 0x88),
                         _mm512_shuffle_f32x4(r[2 * q], r[2 * q + 1], 0xDD));
  for (int h = 0; h < 2; ++h)  // k += k + 2: chunk c holds in[8h + c] (lanes 0, 1) and in[8h + 4 + c] (2, 3)
    u[h] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * h], t[2 * h + 1], 0x44),
                         _mm512_shuffle_ps(t[2 * h], t[2 * h + 1], 0xEE));
  // k += k + 1: lane 4c + l holds in[c + 4l], i.e. C[c][l]
  const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], 0x88), _mm512_shuffle_ps(u[0], u[1], 0xDD));
  const __m512 out = _mm512_mul_ps(_mm512_set1_ps(alpha), sums);
  alignas(64) float rows[16];
  _mm512_store_ps(rows, out);
  for (int i = 0; i < 4; ++i) {
    __m128 x = _mm_load_ps(rows + 4 * i);
    if (beta != 0.0f) x = _mm_add_ps(x, _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(c + i * ldc)));
    _mm_storeu_ps(c + i * ldc, x);
  }
}
template <class Arch>
void reduce_store_4x4(const __m512d (&acc)[4][4], double alpha, double beta, double* c, index_t ldc) {
  // Result h holds rows 2h (lanes 0-3) and 2h + 1 (lanes 4-7): lane 2c + l of result h is in[8h + 4l + c], so
  // C[i][j] (lane L = 4 (i - 2h) + j) goes to in[8h + 4 (L % 2) + L / 2].
  __m512d in[16];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int h = i / 2, L = 4 * (i % 2) + j;
      in[8 * h + 4 * (L % 2) + L / 2] = acc[i][j];
    }
  __m512d r[8], t[4], u[2];
  for (int p = 0; p < 8; ++p)  // k += k + 4: lanes 0-3 in[2p], 4-7 in[2p + 1]
    r[p] = _mm512_add_pd(_mm512_shuffle_f64x2(in[2 * p], in[2 * p + 1], 0x44),
                         _mm512_shuffle_f64x2(in[2 * p], in[2 * p + 1], 0xEE));
  for (int q = 0; q < 4; ++q)  // k += k + 2: 128-bit chunk c holds in[4q + c] folded to 2 lanes
    t[q] = _mm512_add_pd(_mm512_shuffle_f64x2(r[2 * q], r[2 * q + 1], 0x88),
                         _mm512_shuffle_f64x2(r[2 * q], r[2 * q + 1], 0xDD));
  for (int h = 0; h < 2; ++h)  // k += k + 1: chunk c holds the sums of in[8h + c] and in[8h + 4 + c]
    u[h] =
        _mm512_add_pd(_mm512_unpacklo_pd(t[2 * h], t[2 * h + 1]), _mm512_unpackhi_pd(t[2 * h], t[2 * h + 1]));
  for (int h = 0; h < 2; ++h) {
    const __m512d out = _mm512_mul_pd(_mm512_set1_pd(alpha), u[h]);
    for (int half = 0; half < 2; ++half) {
      double* row = c + (2 * h + half) * ldc;
      __m256d x = half == 0 ? _mm512_castpd512_pd256(out) : _mm512_extractf64x4_pd(out, 1);
      if (beta != 0.0) x = _mm256_add_pd(x, _mm256_mul_pd(_mm256_set1_pd(beta), _mm256_loadu_pd(row)));
      _mm256_storeu_pd(row, x);
    }
  }
}

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
  constexpr index_t kStepsPerLine = std::max<index_t>(1, 64 / (W * index_t(sizeof(T))));
  for (; k + W <= K; k += W) {
    if ((k / W) % kStepsPerLine == 0) {  // one prefetch per row and cache line (AVX2 steps are half a line)
#pragma GCC unroll 4
      for (int i = 0; i < RI; ++i) __builtin_prefetch(A + i * lda + k + kPrefetchAhead * W);
#pragma GCC unroll 4
      for (int j = 0; j < RJ; ++j) __builtin_prefetch(B + j * ldb + k + kPrefetchAhead * W);
    }
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
  if constexpr (std::is_same_v<Arch, xsimd::avx512f> && RI == 4 && RJ == 4) {
    if (k == K) {  // no k tail to add after the lane sums
      typename V::register_type regs[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) regs[i][j] = acc[i][j];
      reduce_store_4x4<Arch>(regs, alpha, beta, C, ldc);
      return;
    }
  }
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) {
      T s = sum_lanes<Arch, T>(acc[i][j]);  // not xsimd::hadd: see simd_util.hpp
      for (index_t t = k; t < K; ++t) s += A[i * lda + t] * B[j * ldb + t];  // the k tail, in order
      T& out = C[i * ldc + j];
      out = alpha * s + (beta == T(0) ? T(0) : beta * out);
    }
}

// C (M x N) = alpha * A (M x K) * B^T (B stored N x K) + beta * C, by RI x 4 blocks; a row tail by 1 x 4
// blocks, a column tail one element at a time. RI = 4 with AVX-512's 32 registers. AVX2 (and SSE2) have 16,
// and a 4 x 4 block there kept two of its accumulators on the stack (each step then waited on a store and a
// reload): 3 x 4 (12 accumulators, 3 rows of A in registers, 4 of B through one) took dW = dZ h^T at
// 16 x 16 x 256 in double from 5.5 to 4.8 us on a Zen 2 (0.89 -> 1.03 of OpenBLAS), in float from 3.7 to
// 3.1 us (0.80 -> 0.94).
template <class Arch, class T>
void gemm_dot(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb, T beta,
              T* C, index_t ldc, bool parallel) {
  constexpr index_t RI = std::is_same_v<Arch, xsimd::avx512f> ? 4 : 3, RJ = 4;
  const index_t blocks_i = (M + RI - 1) / RI, blocks_j = (N + RJ - 1) / RJ;
  auto block = [&](index_t b) {
    const index_t i0 = (b / blocks_j) * RI, j0 = (b % blocks_j) * RJ;
    const T* a = A + i0 * lda;
    const T* bt = B + j0 * ldb;
    T* c = C + i0 * ldc + j0;
    if (i0 + RI <= M && j0 + RJ <= N) {
      dot_block<Arch, T, RI, RJ>(K, a, lda, bt, ldb, alpha, beta, c, ldc);
      return;
    }
    for (index_t i = 0; i < std::min<index_t>(RI, M - i0); ++i) {
      if (j0 + RJ <= N) {
        dot_block<Arch, T, 1, RJ>(K, a + i * lda, lda, bt, ldb, alpha, beta, c + i * ldc, ldc);
        continue;
      }
      for (index_t j = 0; j < std::min<index_t>(RJ, N - j0); ++j)
        dot_block<Arch, T, 1, 1>(K, a + i * lda, lda, bt + j * ldb, ldb, alpha, beta, c + i * ldc + j, ldc);
    }
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
