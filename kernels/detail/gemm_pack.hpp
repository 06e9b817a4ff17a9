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

// AVX-512, double: op(B) = B^T packed by 8 x 8 blocks transposed in registers (24 shuffles per block) instead of
// element by element. This is the transpose of the weight gradients dW = dZ h^T and dV = G A^T, where the batch
// is the long inner dimension: element by element, packing cost a third of the multiplication.
// Written out register by register and always inlined: as a loop over a table of lane moves, GCC kept the
// eight rows in memory and called it out of line, and packing a 32 x 50 block took as long as multiplying by it.
// (A template so that it is only compiled where called, in the AVX-512 translation unit.)
template <class Arch>
[[gnu::always_inline]] inline void transpose8x8(__m512d& r0, __m512d& r1, __m512d& r2, __m512d& r3, __m512d& r4,
                                                __m512d& r5, __m512d& r6, __m512d& r7) {
  // Pairs within 128-bit chunks: a0 holds columns {0, 2, 4, 6} of rows 0 and 1, a1 columns {1, 3, 5, 7}.
  const __m512d a0 = _mm512_unpacklo_pd(r0, r1), a1 = _mm512_unpackhi_pd(r0, r1);
  const __m512d a2 = _mm512_unpacklo_pd(r2, r3), a3 = _mm512_unpackhi_pd(r2, r3);
  const __m512d a4 = _mm512_unpacklo_pd(r4, r5), a5 = _mm512_unpackhi_pd(r4, r5);
  const __m512d a6 = _mm512_unpacklo_pd(r6, r7), a7 = _mm512_unpackhi_pd(r6, r7);
  // Chunks of rows 0-3 (b0..b3) and 4-7 (b4..b7): columns {0, 4}, {2, 6}, {1, 5}, {3, 7}.
  const __m512d b0 = _mm512_shuffle_f64x2(a0, a2, 0x88), b1 = _mm512_shuffle_f64x2(a0, a2, 0xdd);
  const __m512d b2 = _mm512_shuffle_f64x2(a1, a3, 0x88), b3 = _mm512_shuffle_f64x2(a1, a3, 0xdd);
  const __m512d b4 = _mm512_shuffle_f64x2(a4, a6, 0x88), b5 = _mm512_shuffle_f64x2(a4, a6, 0xdd);
  const __m512d b6 = _mm512_shuffle_f64x2(a5, a7, 0x88), b7 = _mm512_shuffle_f64x2(a5, a7, 0xdd);
  r0 = _mm512_shuffle_f64x2(b0, b4, 0x88), r4 = _mm512_shuffle_f64x2(b0, b4, 0xdd);
  r2 = _mm512_shuffle_f64x2(b1, b5, 0x88), r6 = _mm512_shuffle_f64x2(b1, b5, 0xdd);
  r1 = _mm512_shuffle_f64x2(b2, b6, 0x88), r5 = _mm512_shuffle_f64x2(b2, b6, 0xdd);
  r3 = _mm512_shuffle_f64x2(b3, b7, 0x88), r7 = _mm512_shuffle_f64x2(b3, b7, 0xdd);
}

template <class Arch, class T, int NR>
void pack_b_panel(Trans tb, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nr, T* panel) {
  if constexpr (std::is_same_v<Arch, xsimd::avx512f> && std::is_same_v<T, double> && NR % 8 == 0) {
    if (tb == Trans::T) {
      // panel[k * NR + j] = B[(j0 + j) * ldb + p0 + k]: 8 rows of B (8 columns of the panel) x 8 values of k at a
      // time; rows past nr and k past kc read as zero (masked loads, never past the end of B).
      for (index_t jb = 0; jb < NR; jb += 8) {
        const T* src = B + (j0 + jb) * ldb + p0;
        auto row = [&](int i, index_t k, __mmask8 kmask) {
          return jb + i < nr ? _mm512_maskz_loadu_pd(kmask, src + i * ldb + k) : _mm512_setzero_pd();
        };
        for (index_t k = 0; k < kc; k += 8) {
          // In a deep network's backward, B (a saved activation) comes from L2 or memory, eight rows a line at a
          // time: ask for each row's line kAhead blocks early.
          constexpr index_t kAhead = 4;
          if (k + 8 * kAhead < kc)
#pragma GCC unroll 8
            for (int i = 0; i < 8; ++i)
              if (jb + i < nr) __builtin_prefetch(src + i * ldb + k + 8 * kAhead);
          const __mmask8 kmask = kc - k >= 8 ? __mmask8(0xff) : __mmask8((1u << (kc - k)) - 1u);
          __m512d r0 = row(0, k, kmask), r1 = row(1, k, kmask), r2 = row(2, k, kmask), r3 = row(3, k, kmask),
                  r4 = row(4, k, kmask), r5 = row(5, k, kmask), r6 = row(6, k, kmask), r7 = row(7, k, kmask);
          transpose8x8<Arch>(r0, r1, r2, r3, r4, r5, r6, r7);
          T* dst = panel + k * NR + jb;
          const index_t rows = std::min<index_t>(8, kc - k);  // rows of the panel this block fills
          _mm512_storeu_pd(dst, r0);
          if (rows > 1) _mm512_storeu_pd(dst + NR, r1);
          if (rows > 2) _mm512_storeu_pd(dst + 2 * NR, r2);
          if (rows > 3) _mm512_storeu_pd(dst + 3 * NR, r3);
          if (rows > 4) _mm512_storeu_pd(dst + 4 * NR, r4);
          if (rows > 5) _mm512_storeu_pd(dst + 5 * NR, r5);
          if (rows > 6) _mm512_storeu_pd(dst + 6 * NR, r6);
          if (rows > 7) _mm512_storeu_pd(dst + 7 * NR, r7);
        }
      }
      return;
    }
  }
  pack_b_panel<T, NR>(tb, B, ldb, p0, kc, j0, nr, panel);
}

}  // namespace
}  // namespace tapelab::kernels::detail
