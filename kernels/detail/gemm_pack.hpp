#pragma once
// Packing for the BLIS-style GEMM: copies a block of op(A) or op(B) into the order the micro-kernel reads,
// zero-padding partial panels. This is where the transposes are absorbed: after packing, A*B, A^T*B, A*B^T and
// A^T*B^T all look the same to the micro-kernel.
//
//   packed A: panels of MR rows; panel r holds, for k = 0..kc-1, the MR values op(A)[r*MR + i, k] (i fastest).
//   packed B: panels of NR cols; panel p holds, for k = 0..kc-1, the NR values op(B)[k, p*NR + j] (j fastest).
#include <immintrin.h>

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
// (A template so that it is only compiled where called, in the AVX-512 translation unit.)
template <class Arch>
void transpose8x8(__m512d r[8]) {
  __m512d a[8], b[8];
  for (int i = 0; i < 4; ++i) {  // pairs within 128-bit chunks
    a[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h)  // chunks of rows 4h..4h+3: b[4h + {0,1,2,3}] hold columns {0,4}, {2,6}, {1,5}, {3,7}
    for (int lh = 0; lh < 2; ++lh) {
      b[4 * h + 2 * lh] = _mm512_shuffle_f64x2(a[4 * h + lh], a[4 * h + 2 + lh], 0x88);
      b[4 * h + 2 * lh + 1] = _mm512_shuffle_f64x2(a[4 * h + lh], a[4 * h + 2 + lh], 0xdd);
    }
  // b[0]: cols 0,4 of rows 0-3; b[1]: cols 2,6; b[2]: cols 1,5; b[3]: cols 3,7 (same for rows 4-7 in b[4..7])
  const int col_of[4][2] = {{0, 4}, {2, 6}, {1, 5}, {3, 7}};
  for (int q = 0; q < 4; ++q) {
    r[col_of[q][0]] = _mm512_shuffle_f64x2(b[q], b[4 + q], 0x88);
    r[col_of[q][1]] = _mm512_shuffle_f64x2(b[q], b[4 + q], 0xdd);
  }
}

template <class Arch, class T, int NR>
void pack_b_panel(Trans tb, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, index_t nr, T* panel) {
  if constexpr (std::is_same_v<Arch, xsimd::avx512f> && std::is_same_v<T, double> && NR % 8 == 0) {
    if (tb == Trans::T) {
      // panel[k * NR + j] = B[(j0 + j) * ldb + p0 + k]: 8 rows of B (8 columns of the panel) x 8 values of k at a
      // time; rows past nr and k past kc read as zero (masked loads, never past the end of B).
      for (index_t jb = 0; jb < NR; jb += 8) {
        for (index_t k = 0; k < kc; k += 8) {
          const __mmask8 kmask = kc - k >= 8 ? __mmask8(0xff) : __mmask8((1u << (kc - k)) - 1u);
          __m512d r[8];
          for (int i = 0; i < 8; ++i)
            r[i] = jb + i < nr ? _mm512_maskz_loadu_pd(kmask, B + (j0 + jb + i) * ldb + p0 + k) : _mm512_setzero_pd();
          transpose8x8<Arch>(r);
          for (int i = 0; i < 8 && k + i < kc; ++i) _mm512_storeu_pd(panel + (k + i) * NR + jb, r[i]);
        }
      }
      return;
    }
  }
  pack_b_panel<T, NR>(tb, B, ldb, p0, kc, j0, nr, panel);
}

}  // namespace
}  // namespace tapelab::kernels::detail
