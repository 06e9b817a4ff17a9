#pragma once
// The GEMM micro-kernel: the only architecture-specific piece of the GEMM (BLIS's layering).
//
// Contract: C[0:MR, 0:NR] = alpha * sum_k a(:, k) b(k, :)^T + beta * C, where NR = NV * (vector width) and
//   a(i, k) = a[i * a_row_stride + k * a_k_stride]   (packed: row stride 1, k stride MR)
//   b(k, :) = the NR contiguous values at b + k * b_k_stride   (packed: k stride NR)
// beta == 0 never reads C. The MR x NV accumulators must stay in registers: the loops over them are fully
// unrolled (a compile-time trip count plus `#pragma GCC unroll`), so each acc[i][v] becomes one register.
// Each k step: NV vector loads of b, MR broadcasts of a, MR*NV fused multiply-adds.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T, int MR, int NV, bool kPackedA, bool kPackedB>
void micro_kernel(index_t kc, const T* __restrict a, index_t a_row_stride, index_t a_k_stride,
                  const T* __restrict b, index_t b_k_stride, T alpha, T beta, T* __restrict c, index_t ldc) {
  using V = xsimd::batch<T, Arch>;
  constexpr int W = static_cast<int>(V::size);
  constexpr int NR = NV * W;
  // Packed operands have compile-time strides, so the address arithmetic folds into the load instructions.
  const index_t ars = kPackedA ? 1 : a_row_stride;
  const index_t aks = kPackedA ? MR : a_k_stride;
  const index_t bks = kPackedB ? NR : b_k_stride;

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
    for (int v = 0; v < NV; ++v) bv[v] = V::load_unaligned(b + v * W);
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
      for (int v = 0; v < NV; ++v) acc[i][v].store_unaligned(c + i * ldc + v * W);
    return;
  }
  const V va(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) (va * acc[i][v]).store_unaligned(c + i * ldc + v * W);
  } else {
    const V vb(beta);
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        T* p = c + i * ldc + v * W;
        xsimd::fma(va, acc[i][v], vb * V::load_unaligned(p)).store_unaligned(p);
      }
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail
