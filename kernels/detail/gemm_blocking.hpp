#pragma once
// GEMM block sizes, one row per (architecture, scalar type): the only numbers that are tuned per machine.
//
//   MR x NR  register tile of the micro-kernel (NR = NV vectors); MR*NV accumulators + NV loads + 1 broadcast
//            must fit the register file (32 zmm on AVX-512, 16 ymm/xmm otherwise).
//   KC       depth of a packed panel: the B micro-panel (KC x NR) should sit in L1 while A streams from L2.
//   MC       rows of the packed A block (MC x KC in L2).
//   NC       columns of the packed B block (KC x NC in L3).
//   kDirectMaxM: at most this many rows of C, the small-shape path reads A and B where they lie (no packing),
//            since each packed panel would be reused only a few times (the ResNet regime, d <= 256).
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
struct GemmBlocking;

// AVX-512: 12 x 2 zmm = 24 accumulators of 32 registers.
template <class T>
struct GemmBlocking<xsimd::avx512f, T> {
  static constexpr int MR = 12, NV = 2;
  static constexpr index_t KC = 256, MC = 144, NC = 4096;
  static constexpr index_t kDirectMaxM = 256;
};
// AVX2 + FMA: 6 x 2 ymm = 12 accumulators of 16 registers (the classic Haswell shape).
template <class T>
struct GemmBlocking<xsimd::fma3<xsimd::avx2>, T> {
  static constexpr int MR = 6, NV = 2;
  static constexpr index_t KC = 256, MC = 120, NC = 4096;
  static constexpr index_t kDirectMaxM = 256;
};
// SSE2 baseline: 4 x 2 xmm = 8 accumulators of 16 registers (no FMA: multiply then add).
template <class T>
struct GemmBlocking<xsimd::sse2, T> {
  static constexpr int MR = 4, NV = 2;
  static constexpr index_t KC = 256, MC = 96, NC = 2048;
  static constexpr index_t kDirectMaxM = 256;
};

}  // namespace
}  // namespace tapelab::kernels::detail
