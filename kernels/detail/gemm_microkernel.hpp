#pragma once
// The GEMM micro-kernel: the only architecture-specific piece of the GEMM (BLIS's layering).
//
// Contract: C[0:MR, 0:NR] = alpha * sum_k a(:, k) b(k, :)^T + beta * C_in, where NR = NV * (vector width) and
//   a(i, k) = a[i * a_row_stride + k * a_k_stride]   (packed: row stride 1, k stride MR)
//   b(k, :) = the NR contiguous values at b + k * b_k_stride   (packed: k stride NR)
//   C_in is c_in with leading dimension ldc_in: C itself (c_in == c) or another matrix (out-of-place
//   accumulation, y = h + V a without copying h into y first).
// beta == 0 never reads C_in. The MR x NV accumulators must stay in registers: the loops over them are fully
// unrolled (a compile-time trip count plus `#pragma GCC unroll`), so each acc[i][v] becomes one register.
// Each k step: NV vector loads of b, MR broadcasts of a, MR*NV fused multiply-adds.
//
// kMaskedN (only where TailMask<Arch, T>::kAvailable, i.e. AVX-512): the tile has n < NR valid columns. Loads of
// b and C_in and stores of C are masked to them, so a partial panel is read in place and written directly:
// no packed copy of B's edge, no staging buffer for C. The lanes past n compute zeros that are never stored.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_mask.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T, int MR, int NV, bool kPackedA, bool kPackedB, bool kMaskedN = false>
void micro_kernel(index_t kc, const T* __restrict a, index_t a_row_stride, index_t a_k_stride,
                  const T* __restrict b, index_t b_k_stride, T alpha, T beta, const T* c_in, index_t ldc_in,
                  T* __restrict c, index_t ldc, index_t n = NV * index_t(xsimd::batch<T, Arch>::size)) {
  using V = xsimd::batch<T, Arch>;
  constexpr int W = static_cast<int>(V::size);
  constexpr int NR = NV * W;
  using Mask = TailMask<Arch, T>;
  // Packed operands have compile-time strides, so the address arithmetic folds into the load instructions.
  const index_t ars = kPackedA ? 1 : a_row_stride;
  const index_t aks = kPackedA ? MR : a_k_stride;
  const index_t bks = kPackedB ? NR : b_k_stride;

  // Per-vector lane masks of a partial tile (a vector wholly past n gets the empty mask).
  [[maybe_unused]] unsigned mask[NV] = {};
  if constexpr (kMaskedN) {
    static_assert(Mask::kAvailable, "masked tiles need hardware masks");
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const index_t left = n - v * W;
      mask[v] = Mask::first(left <= 0 ? 0 : (left >= W ? W : left));
    }
  }
  auto load_b = [&](const T* p, int v) {
    if constexpr (kMaskedN)
      return Mask::load(p, static_cast<typename Mask::Mask>(mask[v]));
    else
      return V::load_unaligned(p);
  };
  auto store_c = [&](T* p, int v, const V& x) {
    if constexpr (kMaskedN)
      Mask::store(p, static_cast<typename Mask::Mask>(mask[v]), x);
    else
      x.store_unaligned(p);
  };

  // Ask for the C tile now so its cache lines arrive while a long k loop runs (the write-back would stall
  // otherwise); for short loops the prefetches would cost more than they hide.
  if (kc >= 64) {
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i) {
      __builtin_prefetch(c + i * ldc, 1);
      __builtin_prefetch(c + i * ldc + NR - 1, 1);
    }
  }

  V acc[MR][NV];
#pragma GCC unroll 64
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V(T(0));

  for (index_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = load_b(b + v * W, v);
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i) {
      const V ai(a[i * ars]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = xsimd::fma(ai, bv[v], acc[i][v]);
    }
    a += aks;
    b += bks;
  }

  if (alpha == T(1) && beta == T(0)) {  // the common case on the tape: plain stores
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) store_c(c + i * ldc + v * W, v, acc[i][v]);
    return;
  }
  const V va(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) store_c(c + i * ldc + v * W, v, va * acc[i][v]);
  } else if (beta == T(1)) {  // accumulation (y = h + alpha V a, gradients): no multiply by one
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        store_c(c + i * ldc + v * W, v, xsimd::fma(va, acc[i][v], load_b(c_in + i * ldc_in + v * W, v)));
  } else {
    const V vb(beta);
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        store_c(c + i * ldc + v * W, v, xsimd::fma(va, acc[i][v], vb * load_b(c_in + i * ldc_in + v * W, v)));
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
