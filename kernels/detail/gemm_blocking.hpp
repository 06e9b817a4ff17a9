#pragma once
// GEMM block sizes, one row per (architecture, scalar type): the only numbers that are tuned per machine.
//
//   MR x NR  register tile of the micro-kernel (NR = NV vectors); MR*NV accumulators + NV loads + 1 broadcast
//            must fit the register file (32 zmm on AVX-512, 16 ymm/xmm otherwise).
//   NV_direct the tile width (vectors) of the direct path, where it differs from the packed path's NV.
//   MR_direct the tile height of the small-shape path: a power of two, so that the ResNet widths (16, 64, 256)
//            split into whole tiles and no row tail has to be packed.
//   MR_small x NV_small: the tile of gemm_small (the tape's GEMMs: M <= 64, K <= KC, B in place). On AVX-512,
//            4 x 4 vectors (4 broadcasts and 4 loads per 16 FMAs) against 8 x 2 (8 + 2): 84% of peak on
//            16 x 128 x 16 against 76%, 93% on 64 x 128 x 64 against 92%; 4 x 5, 4 x 6, 8 x 3, 2 x 8 were slower.
//   KC       depth of a packed panel: the B micro-panel (KC x NR) should sit in L1 while A streams from L2.
//   MC       rows of the packed A block (MC x KC in L2).
//   NC       columns of the packed B block (KC x NC in L3).
//   NC_direct the same where A is read in place (kDirectMaxM): no A block is packed again per column block, so
//            a B block that stays in L2 beside A costs nothing. On AVX-512, 256: on a Zen 5, 256 x 1024 x 256
//            went from 0.97-1.01 to 1.04-1.05 of OpenBLAS in float and 1.05-1.10 to 1.09-1.13 in double
//            (the whole 1 MB packed B, twice the L2's share of it, was streamed once per row block). NC = 256
//            on the packed path instead cost 1024^3 0.96 -> 0.88 (A packed once per column block).
//   kDirectMaxM: at most this many rows of C, the small-shape path reads A where it lies (no packing), since
//            each packed A panel would be reused only a few times (the ResNet regime, d <= 256).
//   kDirectMaxPanels: A is read in place also when N is at most this many column panels (NR wide), whatever
//            M: a packed A block would serve only that many.
//   kDirectMaxMForB: at most this many rows, B is read in place too. Packing B costs about K*N copies, paid back
//            over M/MR row blocks; and with more row blocks, re-reading a strided B panel thrashes the TLB.
//   kDotMaxMN: A * B^T with at most this many rows and columns runs as 4 x 4 blocks of dot products
//            (gemm_dot.hpp) instead of transposing B into packed panels. Measured on dW = dZ h^T with B = 256
//            (min of 200 runs): at d = 16 the dot path takes 2.2 us against 3.3 us packed; at d = 64, 62 us
//            against 18 us (the 16 lane reductions per 4 x 4 block no longer pay), hence 16.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
struct GemmBlocking;

// AVX-512, float: 14 x 2 zmm = 28 accumulators of 32 registers. Measured against 12 x 2 and 8 x 2 at 1024^3
// (scripts/bench_kernels.sh): 14 rows won by 10-30%, with KC = 384 (the B micro-panel, 384 x 32 floats, is 48 KB).
// Double: 8 x 3 zmm (8 x 24, 24 accumulators; 3 loads + 8 broadcasts per 24 FMAs against 2 + 14 per 28), with
// KC = 512, MC = 96 (the A block, 384 KB, in a 1 MiB L2). Against 14 x 2 with KC = 256, MC = 140, as ratios to
// OpenBLAS in one run: 2048^3 0.90 -> 0.99, 1024^3 0.94 -> 1.03, 512^3 0.97 -> 1.06. KC = 128 or 192 was slower
// at every size (more passes over C), though the micro-panel then fits L1. The direct path (d <= 256, A read in
// place) keeps 8 x 2 (NV_direct): at 256 x 256 x 256 it ran 1.07 against 1.04 with 8 x 3.
template <class T>
struct GemmBlocking<xsimd::avx512f, T> {
  static constexpr int MR = sizeof(T) == 4 ? 14 : 8, MR_direct = 8, NV = sizeof(T) == 4 ? 2 : 3, NV_direct = 2,
                       MR_small = 4, NV_small = 4;
  static constexpr index_t KC = sizeof(T) == 4 ? 384 : 512, MC = sizeof(T) == 4 ? 140 : 96, NC = 4096,
                          NC_direct = 256;
  // A * B^T up to 16 x 16 as dot products, in double too: since their 4 x 4 blocks reduce their lane sums
  // together (gemm_dot.hpp), dW = dZ h^T at d = 16, B = 256 runs at 0.85 of OpenBLAS against 0.66 when B^T
  // was packed with 8 x 8 transposes (which had beaten the one-at-a-time reductions: 1.47 us against 1.77
  // us).
  static constexpr index_t kDirectMaxM = 256, kDirectMaxMForB = 64, kDotMaxMN = 16, kDirectMaxPanels = 0;
};
// AVX2 + FMA: 6 x 2 ymm = 12 accumulators of 16 registers (the classic Haswell shape). Measured on a Zen 2
// EPYC (FMA latency 5 on two pipes: fewer than 10 accumulators leave them idle), paired bursts against
// OpenBLAS's Zen kernels. gemm_small 4 x 2 -> 4 x 3 (12 accumulators, 3 loads + 4 broadcasts per 12 FMAs; 6 x
// 2 needed row tails and did less well): 16 x 256 x 16 in f64 4.1 -> 3.5 us (1.40 -> 1.64 of OpenBLAS), 64 x
// 256 x 64 0.97 -> 1.17, 64 x 1024 x 64 in f32 0.93 -> 1.17. The direct path's 4 x 2 tile lost to packing A
// from 128 rows up: kDirectMaxM 256 -> 64 took 256 x 256 x 256 from 0.86 to 1.04 (f64) and 0.82 to 0.99
// (f32), 256 x 1024 x 256 from 0.90 to 1.08 and 0.83 to 1.00, 128^3 from 0.86 to 0.97 and 0.90 to 1.00; 256 x
// 32 x 256 in f32 (two column panels) kept the direct path, 1.03 (0.88 packed).
template <class T>
struct GemmBlocking<xsimd::fma3<xsimd::avx2>, T> {
  static constexpr int MR = 6, MR_direct = 4, NV = 2, NV_direct = 2, MR_small = 4, NV_small = 3;
  static constexpr index_t KC = 256, MC = 120, NC = 4096, NC_direct = NC;
  static constexpr index_t kDirectMaxM = 64, kDirectMaxMForB = 64, kDotMaxMN = 16, kDirectMaxPanels = 2;
};
// SSE2 baseline: 4 x 2 xmm = 8 accumulators of 16 registers (no FMA: multiply then add).
template <class T>
struct GemmBlocking<xsimd::sse2, T> {
  static constexpr int MR = 4, MR_direct = 4, NV = 2, NV_direct = 2, MR_small = 4, NV_small = 2;
  static constexpr index_t KC = 256, MC = 96, NC = 2048, NC_direct = NC;
  static constexpr index_t kDirectMaxM = 256, kDirectMaxMForB = 64, kDotMaxMN = 16, kDirectMaxPanels = 0;
};

}  // namespace
}  // namespace tapelab::kernels::detail
