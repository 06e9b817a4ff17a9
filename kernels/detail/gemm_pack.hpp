#pragma once
// Packing for the BLIS-style GEMM: copies a block of op(A) or op(B) into the order the micro-kernel reads,
// zero-padding partial panels. This is where the transposes are absorbed: after packing, A*B, A^T*B, A*B^T and
// A^T*B^T all look the same to the micro-kernel.
//
//   packed A: panels of MR rows; panel r holds, for k = 0..kc-1, the MR values op(A)[r*MR + i, k] (i fastest).
//   packed B: panels of NR cols; panel p holds, for k = 0..kc-1, the NR values op(B)[k, p*NR + j] (j fastest).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] into MR-row panels (mc rounded up to a multiple of MR, zero padded).
template <class T, int MR>
void pack_a(Trans ta, const T* A, index_t lda, index_t i0, index_t mc, index_t p0, index_t kc, T* out) {
  for (index_t r = 0; r < mc; r += MR) {
    const index_t mr = mc - r < MR ? mc - r : MR;
    T* panel = out + r * kc;
    if (ta == Trans::N) {  // row i of op(A) is contiguous: read MR rows side by side, write the panel in order
      const T* src = A + (i0 + r) * lda + p0;
      if (mr == MR) {
        for (index_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
          for (index_t i = 0; i < MR; ++i) panel[k * MR + i] = src[i * lda + k];
      } else {
        for (index_t k = 0; k < kc; ++k)
          for (index_t i = 0; i < mr; ++i) panel[k * MR + i] = src[i * lda + k];
      }
    } else {  // column k of op(A) is contiguous: copy MR at a time
      for (index_t k = 0; k < kc; ++k) {
        const T* src = A + (p0 + k) * lda + i0 + r;
        for (index_t i = 0; i < mr; ++i) panel[k * MR + i] = src[i];
      }
    }
    if (mr < MR)
      for (index_t k = 0; k < kc; ++k)
        for (index_t i = mr; i < MR; ++i) panel[k * MR + i] = T(0);
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] into NR-column panels (nc rounded up to a multiple of NR, zero padded).
template <class T, int NR>
void pack_b_panel(Trans tb, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nr, T* panel) {
  if (tb == Trans::N) {  // row k of op(B) is contiguous
    // A panel reads NR values from each of kc rows a full row of B apart: each row is a new cache line (and, for
    // wide B, a new page), which the hardware prefetcher does not follow. Ask for rows kAhead steps early.
    constexpr index_t kAhead = 8;
    for (index_t k = 0; k < kc; ++k) {
      const T* src = B + (p0 + k) * ldb + j0;
      if (k + kAhead < kc) {
        __builtin_prefetch(src + kAhead * ldb);
        __builtin_prefetch(src + kAhead * ldb + nr - 1);
      }
      T* dst = panel + k * NR;
      for (index_t j = 0; j < nr; ++j) dst[j] = src[j];
      for (index_t j = nr; j < NR; ++j) dst[j] = T(0);
    }
  } else {  // op(B)[k, j] = B[j, k]: row j of B is contiguous in k
    for (index_t j = 0; j < nr; ++j) {
      const T* src = B + (j0 + j) * ldb + p0;
      for (index_t k = 0; k < kc; ++k) panel[k * NR + j] = src[k];
    }
    if (nr < NR)
      for (index_t k = 0; k < kc; ++k)
        for (index_t j = nr; j < NR; ++j) panel[k * NR + j] = T(0);
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] with op(B) = B into all its NR-column panels at once, row by row: each row
// of B is read once, front to back (where packing panel after panel reads a few values from every row and
// stalls on a cache or TLB miss per row). One thread's whole block; the last panel zero padded.
template <class Arch, class T, int NR>
void pack_b_rows(const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nc, T* out) {
  using V = xsimd::batch<T, Arch>;
  constexpr index_t W = static_cast<index_t>(V::size);
  static_assert(NR % W == 0);
  const index_t full = nc / NR, rest = nc - full * NR;
  for (index_t k = 0; k < kc; ++k) {
    const T* src = B + (p0 + k) * ldb + j0;
    T* dst = out + k * NR;
    for (index_t p = 0; p < full; ++p)
#pragma GCC unroll 4
      for (index_t v = 0; v < NR; v += W) V::load_unaligned(src + p * NR + v).store_unaligned(dst + p * NR * kc + v);
    if (rest > 0) {
      T* last = dst + full * NR * kc;
      for (index_t j = 0; j < rest; ++j) last[j] = src[full * NR + j];
      for (index_t j = rest; j < NR; ++j) last[j] = T(0);
    }
  }
}

// AVX-512: op(B) = B^T packed by square blocks transposed in registers (8 x 8 doubles, 24 shuffles; 16 x 16
// floats, 64 shuffles) instead of element by element. This is the transpose of the weight gradients dW = dZ h^T
// and dV = G A^T, where the batch is the long inner dimension: element by element, packing cost a third of the
// multiplication. Always inlined, every index a constant: written as a loop over a table of lane moves, GCC kept
// the rows in memory and called the transpose out of line, and packing a 32 x 50 double block took as long as
// multiplying by it (0.83 us; 0.18 us in registers). (Templates, so only compiled in the AVX-512 units.)
template <class Arch>
[[gnu::always_inline]] inline void transpose_block(__m512d (&r)[8]) {
  // Pairs within 128-bit chunks: a[0] holds columns {0, 2, 4, 6} of rows 0 and 1, a[1] columns {1, 3, 5, 7}.
  __m512d a[8], b[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  // b[0..3] (rows 0-3) and b[4..7] (rows 4-7): columns {0, 4}, {2, 6}, {1, 5}, {3, 7}.
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h)
#pragma GCC unroll 2
    for (int l = 0; l < 2; ++l) {
      b[4 * h + 2 * l] = _mm512_shuffle_f64x2(a[4 * h + l], a[4 * h + 2 + l], 0x88);
      b[4 * h + 2 * l + 1] = _mm512_shuffle_f64x2(a[4 * h + l], a[4 * h + 2 + l], 0xdd);
    }
  r[0] = _mm512_shuffle_f64x2(b[0], b[4], 0x88), r[4] = _mm512_shuffle_f64x2(b[0], b[4], 0xdd);
  r[2] = _mm512_shuffle_f64x2(b[1], b[5], 0x88), r[6] = _mm512_shuffle_f64x2(b[1], b[5], 0xdd);
  r[1] = _mm512_shuffle_f64x2(b[2], b[6], 0x88), r[5] = _mm512_shuffle_f64x2(b[2], b[6], 0xdd);
  r[3] = _mm512_shuffle_f64x2(b[3], b[7], 0x88), r[7] = _mm512_shuffle_f64x2(b[3], b[7], 0xdd);
}
template <class Arch>
[[gnu::always_inline]] inline void transpose_block(__m512 (&r)[16]) {
  // t: pairs of rows interleaved within 128-bit chunks; u[4 g + c]: chunk q holds column c + 4 q of rows 4g..4g+3.
  __m512 t[16], u[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    const __m512d lo0 = _mm512_castps_pd(t[4 * g]), lo1 = _mm512_castps_pd(t[4 * g + 2]),
                  hi0 = _mm512_castps_pd(t[4 * g + 1]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  // Chunks: a = columns c, c + 8 of rows 0-7 (b: c + 4, c + 12); a2, b2 the same for rows 8-15.
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 a2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88),
                 b2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(a, a2, 0x88), r[c + 8] = _mm512_shuffle_f32x4(a, a2, 0xdd);
    r[c + 4] = _mm512_shuffle_f32x4(b, b2, 0x88), r[c + 12] = _mm512_shuffle_f32x4(b, b2, 0xdd);
  }
}

// AVX2: the same in-register transposes for 256-bit registers, 4 x 4 doubles or 8 x 8 floats; r[i] holds row
// i of the block on entry and column i on exit.
inline void transpose_block_avx2(__m256d (&r)[4]) {
  // Rows a, b, c, d: t0 = a0 b0 a2 b2, t1 = a1 b1 a3 b3 (t2, t3 the same for c, d); then 128-bit halves.
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20), r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31), r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
inline void transpose_block_avx2(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int g = 0; g < 8; g += 4) {  // rows g..g+3: 2 x 2 blocks of pairs, then 4-lane halves
    t[g] = _mm256_unpacklo_ps(r[g], r[g + 1]), t[g + 1] = _mm256_unpackhi_ps(r[g], r[g + 1]);
    t[g + 2] = _mm256_unpacklo_ps(r[g + 2], r[g + 3]), t[g + 3] = _mm256_unpackhi_ps(r[g + 2], r[g + 3]);
    u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44), u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  // Column c: the low halves of u[c] (rows 0-3) and u[4 + c] (rows 4-7); column c + 4: their high halves.
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// AVX2, op(A) = A, 6-row panels (AVX2's MR): V values of k from each of the 6 rows at a time (V = 4 doubles
// or 8 floats), transposed in registers, each k's 6 values stored as 4 + 2. Element by element, packing took
// 6% of a 256^3 float GEMM on a Zen 2 (one store per value, at one store per cycle). Partial panels and the k
// tail (kc % V) take the scalar copy. (AVX-512 keeps the scalar copy: the same transposes there, 8 x 8
// doubles and 16 x 16 floats stored 14 lanes at a time, took pack_a's share of a 512^3 GEMM on a Zen 4 only
// from 2.75% to 2.15% in float and not at all in double, within the noise of the total.)
template <class Arch, class T, int MR>
void pack_a(Trans ta, const T* A, index_t lda, index_t i0, index_t mc, index_t p0, index_t kc, T* out) {
  if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>> && MR == 6) {
    if (ta == Trans::N) {
      constexpr int V = 32 / int(sizeof(T));
      const index_t k_whole = kc / V * V, m_whole = mc / MR * MR;
      for (index_t r = 0; r < m_whole; r += MR) {
        const T* src = A + (i0 + r) * lda + p0;
        T* panel = out + r * kc;
        for (index_t k = 0; k < k_whole; k += V) {
          T* dst = panel + k * MR;
          if constexpr (sizeof(T) == 8) {
            __m256d q[4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) q[i] = _mm256_loadu_pd(src + i * lda + k);
            transpose_block_avx2(q);  // q[j]: rows 0-3 at k + j
            const __m256d r4 = _mm256_loadu_pd(src + 4 * lda + k), r5 = _mm256_loadu_pd(src + 5 * lda + k);
            // rows 4, 5 as pairs: lo = (k, k + 2), hi = (k + 1, k + 3), one pair per 128-bit half
            const __m256d lo = _mm256_unpacklo_pd(r4, r5), hi = _mm256_unpackhi_pd(r4, r5);
            const __m128d pair[4] = {_mm256_castpd256_pd128(lo), _mm256_castpd256_pd128(hi),
                                     _mm256_extractf128_pd(lo, 1), _mm256_extractf128_pd(hi, 1)};
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
              _mm256_storeu_pd(dst + j * MR, q[j]);
              _mm_storeu_pd(dst + j * MR + 4, pair[j]);
            }
          } else {
            __m256 q[8];
#pragma GCC unroll 6
            for (int i = 0; i < 6; ++i) q[i] = _mm256_loadu_ps(src + i * lda + k);
            q[6] = q[7] = _mm256_setzero_ps();
            transpose_block_avx2(q);  // q[j]: rows 0-5 (and two zeros) at k + j
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) {
              _mm_storeu_ps(dst + j * MR, _mm256_castps256_ps128(q[j]));
              _mm_storel_pi(reinterpret_cast<__m64*>(dst + j * MR + 4), _mm256_extractf128_ps(q[j], 1));
            }
          }
        }
        for (index_t k = k_whole; k < kc; ++k)
#pragma GCC unroll 6
          for (int i = 0; i < MR; ++i) panel[k * MR + i] = src[i * lda + k];
      }
      if (m_whole < mc) pack_a<T, MR>(ta, A, lda, i0 + m_whole, mc - m_whole, p0, kc, out + m_whole * kc);
      return;
    }
  }
  pack_a<T, MR>(ta, A, lda, i0, mc, p0, kc, out);
}

template <class Arch, class T, int NR>
void pack_b_panel(Trans tb, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nr, T* panel) {
  if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>> && NR % (32 / int(sizeof(T))) == 0) {
    if (tb == Trans::T) {
      // panel[k * NR + j] = B[(j0 + j) * ldb + p0 + k], V rows of B x V values of k at a time, transposed in
      // registers; without masked loads, a partial block of rows (past nr) or of k (past kc) is copied one
      // value at a time. On a Zen 2 the scalar copy took about 0.7 ns per value (dW at 64 x 64 x 256: 6% of a
      // d = 64 training step).
      constexpr int V = 32 / int(sizeof(T));
      using R = typename xsimd::batch<T, Arch>::register_type;  // __m256d or __m256
      const index_t k_whole = kc / V * V;
      for (index_t jb = 0; jb < NR; jb += V) {
        const T* src = B + (j0 + jb) * ldb + p0;
        T* dst = panel + jb;
        const index_t rows = std::clamp<index_t>(nr - jb, 0, V);  // rows of B in this block
        index_t k = 0;
        if (rows == V) {
          for (; k < k_whole; k += V) {
            constexpr index_t kLine = 64 / index_t(sizeof(T)), kAhead = 4 * kLine;
            if (k % kLine == 0 && k + kAhead < kc)
#pragma GCC unroll 8
              for (int i = 0; i < V; ++i) __builtin_prefetch(src + i * ldb + k + kAhead);
            R r[V];
#pragma GCC unroll 8
            for (int i = 0; i < V; ++i) {
              if constexpr (sizeof(T) == 8)
                r[i] = _mm256_loadu_pd(src + i * ldb + k);
              else
                r[i] = _mm256_loadu_ps(src + i * ldb + k);
            }
            transpose_block_avx2(r);
#pragma GCC unroll 8
            for (int i = 0; i < V; ++i) {
              if constexpr (sizeof(T) == 8)
                _mm256_storeu_pd(dst + (k + i) * NR, r[i]);
              else
                _mm256_storeu_ps(dst + (k + i) * NR, r[i]);
            }
          }
        }
        for (; k < kc; ++k)
          for (index_t i = 0; i < V; ++i) dst[k * NR + i] = i < rows ? src[i * ldb + k] : T(0);
      }
      return;
    }
  }
  constexpr int W = 64 / int(sizeof(T));  // values per register, and the side of a transposed block
  if constexpr (std::is_same_v<Arch, xsimd::avx512f> && NR % W == 0) {
    if (tb == Trans::T) {
      using R = typename xsimd::batch<T, Arch>::register_type;  // __m512d or __m512
      using Mask = std::conditional_t<W == 8, __mmask8, __mmask16>;
      // panel[k * NR + j] = B[(j0 + j) * ldb + p0 + k]: W rows of B (W columns of the panel) x W values of k at a
      // time; rows past nr and k past kc read as zero (masked loads, never past the end of B).
      for (index_t jb = 0; jb < NR; jb += W) {
        const T* src = B + (j0 + jb) * ldb + p0;
        for (index_t k = 0; k < kc; k += W) {
          // In a deep network's backward, B (a saved activation) comes from L2 or memory, W rows a line at a
          // time: ask for each row's line kAhead blocks early.
          constexpr index_t kAhead = 4;
          if (k + W * kAhead < kc)
#pragma GCC unroll 16
            for (int i = 0; i < W; ++i)
              if (jb + i < nr) __builtin_prefetch(src + i * ldb + k + W * kAhead);
          const Mask kmask = kc - k >= W ? Mask(~0u) : Mask((1u << (kc - k)) - 1u);
          R r[W];
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i) {
            if constexpr (std::is_same_v<T, double>)
              r[i] = jb + i < nr ? _mm512_maskz_loadu_pd(kmask, src + i * ldb + k) : _mm512_setzero_pd();
            else
              r[i] = jb + i < nr ? _mm512_maskz_loadu_ps(kmask, src + i * ldb + k) : _mm512_setzero_ps();
          }
          transpose_block<Arch>(r);
          T* dst = panel + k * NR + jb;
          const index_t rows = std::min<index_t>(W, kc - k);  // rows of the panel this block fills
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i) {
            if (i >= rows) break;
            if constexpr (std::is_same_v<T, double>) _mm512_storeu_pd(dst + i * NR, r[i]);
            else _mm512_storeu_ps(dst + i * NR, r[i]);
          }
        }
      }
      return;
    }
  }
  pack_b_panel<T, NR>(tb, B, ldb, p0, kc, j0, nr, panel);
}

}  // namespace
}  // namespace tapelab::kernels::detail
