#pragma once
// C = alpha * A * B + beta * C_in for a short depth (K = kStripK, the ResNet width 16) on AVX-512: the whole
// K x W strip of B (one column strip, K zmm) is loaded into registers once and shared by every row of C.
//
//   for j in N step W                 one strip of B: K vector loads (the last strip masked)
//     for i in M step R               R rows at a time (R independent accumulator chains)
//       C[i:i+R, j:j+W] = sum_k A[i:i+R, k] (broadcast from memory) * Bstrip[k]
//
// Against the 4 x 4-vector tiles of gemm_small this reads each element of B once (not M / MR times), and each
// broadcast of A is an embedded-broadcast operand of its FMA at a constant offset from the row pointer (no
// per-k pointer updates, no k loop). Its setup is a few instructions, which matters at 16 x 32 x 16 (about 260
// cycles of FMAs in all). A is read in place (op(A) = A only: the rows of A are where the offsets are constant).
//
// Each element is the same FMA chain as micro_kernel's (zero, then k = 0..K-1 in order, then the same alpha /
// beta arithmetic), so a shape gives the same bits on this path as on the blocked one.
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_mask.hpp"

namespace tapelab::kernels::detail {
namespace {

// The depth this path is compiled for: K zmm of B plus R = 8 accumulators fit the 32 registers.
constexpr index_t kStripK = 16;

// R rows of C times one strip: a[r * lda + k] is A[i + r, k]; b holds the strip's K rows of B.
template <class Arch, class T, int K, int R, bool kMasked>
[[gnu::always_inline]] inline void strip_rows(const xsimd::batch<T, Arch> (&b)[K], const T* a, index_t lda,
                                              T alpha, T beta, const T* c_in, index_t ldc_in, T* c, index_t ldc,
                                              typename TailMask<Arch, T>::Mask mask) {
  using V = xsimd::batch<T, Arch>;
  using Mask = TailMask<Arch, T>;
  V acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = V(T(0));
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = xsimd::fma(V(a[r * lda + k]), b[k], acc[r]);

  auto store = [&](int r, const V& x) {
    if constexpr (kMasked)
      Mask::store(c + r * ldc, mask, x);
    else
      x.store_unaligned(c + r * ldc);
  };
  auto load_c_in = [&](int r) {
    if constexpr (kMasked)
      return Mask::load(c_in + r * ldc_in, mask);
    else
      return V::load_unaligned(c_in + r * ldc_in);
  };
  if (alpha == T(1) && beta == T(0)) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) store(r, acc[r]);
    return;
  }
  const V va(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) store(r, va * acc[r]);
  } else if (beta == T(1)) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) store(r, xsimd::fma(va, acc[r], load_c_in(r)));
  } else {
    const V vb(beta);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) store(r, xsimd::fma(va, acc[r], vb * load_c_in(r)));
  }
}

// One strip of W columns (n of them valid when kMasked) for all M rows: 8 rows at a time, then 4, 2, 1.
template <class Arch, class T, int K, bool kMasked>
void strip(index_t M, index_t n, T alpha, const T* A, index_t lda, const T* B, index_t ldb, T beta,
           const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  using V = xsimd::batch<T, Arch>;
  using Mask = TailMask<Arch, T>;
  const typename Mask::Mask mask = Mask::first(n);
  V b[K];
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k) b[k] = kMasked ? Mask::load(B + k * ldb, mask) : V::load_unaligned(B + k * ldb);
  index_t i = 0;
  for (; i + 8 <= M; i += 8)
    strip_rows<Arch, T, K, 8, kMasked>(b, A + i * lda, lda, alpha, beta, C_in + i * ldc_in, ldc_in, C + i * ldc,
                                       ldc, mask);
  if (M - i >= 4) {
    strip_rows<Arch, T, K, 4, kMasked>(b, A + i * lda, lda, alpha, beta, C_in + i * ldc_in, ldc_in, C + i * ldc,
                                       ldc, mask);
    i += 4;
  }
  if (M - i >= 2) {
    strip_rows<Arch, T, K, 2, kMasked>(b, A + i * lda, lda, alpha, beta, C_in + i * ldc_in, ldc_in, C + i * ldc,
                                       ldc, mask);
    i += 2;
  }
  if (M - i >= 1)
    strip_rows<Arch, T, K, 1, kMasked>(b, A + i * lda, lda, alpha, beta, C_in + i * ldc_in, ldc_in, C + i * ldc,
                                       ldc, mask);
}

// C (M x N) = alpha * A (M x kStripK, row-major, lda) * B (kStripK x N, ldb) + beta * C_in. Needs hardware masks.
//
// The strips are walked away from C: a strip's B loads are issued right after the previous strip's C stores,
// and wait on them when the two share their low 12 address bits (4K aliasing), as when C starts just after B
// modulo 4 KB and rows are 1 KB (N = 256 floats, B and C allocated one after the other): 16 x 256 x 16 went
// from 1.02 to 1.07 of OpenBLAS walking right to left there.
template <class Arch, class T>
void gemm_strips(index_t M, index_t N, T alpha, const T* A, index_t lda, const T* B, index_t ldb, T beta,
                 const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  constexpr int W = static_cast<int>(xsimd::batch<T, Arch>::size), K = static_cast<int>(kStripK);
  constexpr std::uintptr_t kStripBytes = W * sizeof(T);
  const std::uintptr_t c_after_b = (reinterpret_cast<std::uintptr_t>(C) - reinterpret_cast<std::uintptr_t>(B)) % 4096;
  const index_t full = N / W * W;
  auto edge = [&] {
    if (full < N)
      strip<Arch, T, K, true>(M, N - full, alpha, A, lda, B + full, ldb, beta, C_in + full, ldc_in, C + full, ldc);
  };
  if (c_after_b > 0 && c_after_b < 2 * kStripBytes) {  // right to left
    edge();
    for (index_t j = full - W; j >= 0; j -= W)
      strip<Arch, T, K, false>(M, W, alpha, A, lda, B + j, ldb, beta, C_in + j, ldc_in, C + j, ldc);
  } else {
    for (index_t j = 0; j < full; j += W)
      strip<Arch, T, K, false>(M, W, alpha, A, lda, B + j, ldb, beta, C_in + j, ldc_in, C + j, ldc);
    edge();
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
