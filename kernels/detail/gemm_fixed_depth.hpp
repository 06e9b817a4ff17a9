#pragma once
// C = alpha * op(A) * B + beta * C_in for the ResNet widths as depth (K = 16, 32 or 64, a template parameter)
// on AVX-512: register tiles of 8 rows x 2 vectors whose k loop, in chunks of 16, unrolls completely, so that
// every load of B and broadcast of A is an instruction at a constant offset from one pointer.
//
//   for i in M step 8           row blocks outside: op(A)'s 8 x K block packed once (or read in place)
//     for j in N step 2 vectors ... while the block walks B (read in place) and C left to right
//       C[i:i+8, j:j+2W] = sum_{k<K} op(A)[i:i+8, k] (broadcast) * B[k, j:j+2W]
//
// Per k step: 2 loads of B and 8 broadcasts of A feed 16 FMAs. At a depth this short the memory operands per
// FMA and the addressing around them decide the speed on a core with two 512-bit FMA pipes and two 512-bit
// loads per cycle (Zen 5). Measured there against OpenBLAS (SkylakeX kernels, paired bursts) at 16 x 256 x
// 16: the earlier strip path (B's 16 x W strip in registers, one broadcast per FMA) 0.77 f64 / 0.83 f32,
// gemm_small's 4 x 4 tiles with a run-time k loop 0.84-0.94, these tiles 1.07-1.18 / 1.08-1.15 (at 16 x 32 x
// 16: 1.07 / 1.26). A stand-alone harness put 4 x 4 tiles level with 8 x 2 in double, but not at N = 32
// floats (one tile of 2 vectors); 16 x 1 (one broadcast per FMA) at 0.84.
//
// Each element is the same FMA chain as micro_kernel's (zero, then k = 0..K-1 in order, then the same alpha /
// beta arithmetic), so a shape gives the same bits on this path as on the others.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/gemm_pack.hpp"
#include "kernels/detail/simd_mask.hpp"

namespace tapelab::kernels::detail {
namespace {

// R rows x NV vectors of C; the last vector holds `mask`'s lanes only when kMasked. op(A)(r, k) is ap[r * K +
// k] (kByRow) or ap[k * R + r]: the row block packed (gemm_fixed_depth), so that every broadcast is at a
// constant offset from one register.
template <class Arch, class T, int K, bool kByRow, int R, int NV, bool kMasked>
[[gnu::always_inline]] inline void fixed_depth_tile(const T* ap, const T* b, index_t ldb, T alpha, T beta,
                                                    const T* c_in, index_t ldc_in, T* c, index_t ldc,
                                                    typename TailMask<Arch, T>::Mask mask) {
  using V = xsimd::batch<T, Arch>;
  using Mask = TailMask<Arch, T>;
  constexpr int W = static_cast<int>(V::size);
  auto load = [&](const T* p, int v) {
    if constexpr (kMasked)
      if (v == NV - 1) return Mask::load(p, mask);
    return V::load_unaligned(p);
  };
  auto store = [&](T* p, int v, const V& x) {
    if constexpr (kMasked)
      if (v == NV - 1) return Mask::store(p, mask, x);
    x.store_unaligned(p);
  };
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V(T(0));
  // B's rows are reached by one pointer stepped ldb per k, each step opaque to the compiler: otherwise it
  // keeps a pointer per row, 16 of them, more than the free general registers, and reloads them from the
  // stack (the reloads compete with the broadcasts for the load ports; the tiles ran at 0.6-0.9 of OpenBLAS).
  // Depths past 16 run in chunks of 16 (a loop, not unrolled: the code of one chunk is already 400
  // instructions).
  const T* bk = b;
  const T* apk = ap;
#pragma GCC unroll 1
  for (int k0 = 0; k0 < K; k0 += 16) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = load(bk + v * W, v);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const V ar(kByRow ? apk[r * K + k] : apk[k * R + r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(ar, bv[v], acc[r][v]);
      }
      bk += ldb;
      asm("" : "+r"(bk));
    }
    apk += kByRow ? 16 : 16 * R;
    asm("" : "+r"(apk));
  }
  // C (and C_in) row by row through pointers stepped ldc per row, opaque for the same reason as bk: else one
  // pointer per row, each kept across the column loop and spilled.
  const V va(alpha), vb(beta);
  const int mode = alpha == T(1) && beta == T(0) ? 0 : beta == T(0) ? 1 : beta == T(1) ? 2 : 3;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      V x = acc[r][v];
      if (mode == 1)
        x = va * x;
      else if (mode == 2)
        x = xsimd::fma(va, x, load(c_in + v * W, v));
      else if (mode == 3)
        x = xsimd::fma(va, x, vb * load(c_in + v * W, v));
      store(c + v * W, v, x);
    }
    c += ldc;
    asm("" : "+r"(c));
    if (mode >= 2) {
      c_in += ldc_in;
      asm("" : "+r"(c_in));
    }
  }
}

// An N edge of NJ < W columns when op(A) = A^T and a vector holds the R rows (double on AVX-512): vectors
// run down the rows, ap[k * R : k * R + R] (one load) times B[k][j] (one broadcast per column), so each k
// costs 1 + NJ loads for NJ FMAs, against 1 + R loads for R FMAs of a masked row tile whose lanes are mostly
// unused (X6's batch halves of 50 columns end in 2). Each element is the same chain (the same products, in
// the same k order, the same alpha / beta arithmetic), so the same bits. C's column is written lane by lane.
template <class Arch, class T, int K, int R, int NJ>
[[gnu::noinline]] void fixed_depth_edge_down_rows(const T* ap, const T* b, index_t ldb, T alpha, T beta,
                                                  const T* c_in, index_t ldc_in, T* c, index_t ldc) {
  using V = xsimd::batch<T, Arch>;
  static_assert(V::size == R);
  V acc[NJ];
#pragma GCC unroll 8
  for (int j = 0; j < NJ; ++j) acc[j] = V(T(0));
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k) {
    const V a = V::load_aligned(ap + k * R);
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) acc[j] = xsimd::fma(a, V(b[j]), acc[j]);
    b += ldb;
  }
  const V va(alpha), vb(beta);
  const int mode = alpha == T(1) && beta == T(0) ? 0 : beta == T(0) ? 1 : beta == T(1) ? 2 : 3;
  alignas(64) T col[R];
#pragma GCC unroll 8
  for (int j = 0; j < NJ; ++j) {
    V x = acc[j];
    if (mode >= 2) {
      for (int r = 0; r < R; ++r) col[r] = c_in[r * ldc_in + j];
      const V old = V::load_aligned(col);
      x = mode == 2 ? xsimd::fma(va, x, old) : xsimd::fma(va, x, vb * old);
    } else if (mode == 1) {
      x = va * x;
    }
    x.store_aligned(col);
    for (int r = 0; r < R; ++r) c[r * ldc + j] = col[r];
  }
}

template <class Arch, class T, int K, int R, int NJ = 1>
void fixed_depth_edge_down_rows_n(index_t nj, const T* ap, const T* b, index_t ldb, T alpha, T beta,
                                  const T* c_in, index_t ldc_in, T* c, index_t ldc) {
  if constexpr (NJ < R) {
    if (nj == NJ)
      return fixed_depth_edge_down_rows<Arch, T, K, R, NJ>(ap, b, ldb, alpha, beta, c_in, ldc_in, c, ldc);
    fixed_depth_edge_down_rows_n<Arch, T, K, R, NJ + 1>(nj, ap, b, ldb, alpha, beta, c_in, ldc_in, c, ldc);
  }
}

// R rows of C, all N columns: whole tiles of 2 vectors, then the edge (1 or 2 vectors, the last one masked).
// (Not inlined into the large GEMM driver, where the register allocator treated its loop worse.)
template <class Arch, class T, int K, bool kByRow, int R>
[[gnu::noinline]] void fixed_depth_rows(index_t N, const T* ap, const T* B, index_t ldb, T alpha, T beta,
                                        const T* c_in, index_t ldc_in, T* c, index_t ldc) {
  using Mask = TailMask<Arch, T>;
  constexpr int W = static_cast<int>(xsimd::batch<T, Arch>::size);
  index_t j = 0;
  for (; j + 2 * W <= N; j += 2 * W) {
    // The broadcasts of op(A) are the same for every j. Seeing that, GCC would hoist all K R of them out of
    // this loop and spill them; through a pointer opaque to it they stay memory operands of each tile.
    const T* ap_tile = ap;
    asm("" : "+r"(ap_tile));
    fixed_depth_tile<Arch, T, K, kByRow, R, 2, false>(ap_tile, B + j, ldb, alpha, beta, c_in + j, ldc_in,
                                                      c + j, ldc, 0);
  }
  const index_t left = N - j;
  if constexpr (!kByRow && R == W) {
    if (left > 0 && left < W)
      return fixed_depth_edge_down_rows_n<Arch, T, K, R>(left, ap, B + j, ldb, alpha, beta, c_in + j, ldc_in,
                                                         c + j, ldc);
  }
  if (left > W)
    fixed_depth_tile<Arch, T, K, kByRow, R, 2, true>(ap, B + j, ldb, alpha, beta, c_in + j, ldc_in, c + j,
                                                     ldc, Mask::first(left - W));
  else if (left > 0)
    fixed_depth_tile<Arch, T, K, kByRow, R, 1, true>(ap, B + j, ldb, alpha, beta, c_in + j, ldc_in, c + j,
                                                     ldc, Mask::first(left));
}

// The R rows of op(A) from row i, packed where the tiles read them: op(A) = A row by row (ap[r * K + k], as A
// holds them: when A's rows are K apart, A itself is returned), op(A) = A^T column by column (ap[k * R + r],
// as A holds them). Row copies, no transposition: at 16 x 32 x 16 the tiles themselves take about as long as
// a scalar transposing copy.
template <class T, int K, int R>
const T* pack_fixed_depth_rows(Trans ta, const T* A, index_t lda, index_t i, T* ap) {
  if (ta == Trans::N) {
    if (lda == K) return A + i * K;
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 64
      for (int k = 0; k < K; ++k) ap[r * K + k] = A[(i + r) * lda + k];
    return ap;
  }
  pack_a<T, R>(ta, A, lda, i, R, 0, K, ap);  // the blocked path's A panel: ap[k * R + r]
  return ap;
}

// C (M x N) = alpha * op(A) (M x K; either transpose) * B (K x N, ldb, read in place) + beta * C_in, M a multiple
// of 8 (the ResNet widths; other M go to gemm_small, so that the sanitizer build compiles one tile height, not
// four: each is thousands of unrolled instructions). Rows 8 at a time, each block of op(A) packed first (8 K
// values, used N / 2W times). Needs hardware masks (the N edge is masked in place). op(A) = A^T is V^T G in a
// residual layer's backward.
template <class Arch, class T, int K, bool kByRow>
void fixed_depth_all_rows(Trans ta, index_t M, index_t N, T alpha, const T* A, index_t lda, const T* B,
                          index_t ldb, T beta, const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  alignas(64) T ap[8 * K];
  for (index_t i = 0; i < M; i += 8)
    fixed_depth_rows<Arch, T, K, kByRow, 8>(N, pack_fixed_depth_rows<T, K, 8>(ta, A, lda, i, ap), B, ldb,
                                            alpha, beta, C_in + i * ldc_in, ldc_in, C + i * ldc, ldc);
}

// Whether gemm_fixed_depth has tiles for M x K.
inline bool has_fixed_depth(index_t M, index_t K) { return M % 8 == 0 && (K == 16 || K == 32 || K == 64); }

template <class Arch, class T, int K>
void gemm_fixed_depth_k(Trans ta, index_t M, index_t N, T alpha, const T* A, index_t lda, const T* B,
                        index_t ldb, T beta, const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  if (ta == Trans::N)
    fixed_depth_all_rows<Arch, T, K, true>(ta, M, N, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
  else
    fixed_depth_all_rows<Arch, T, K, false>(ta, M, N, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
}

template <class Arch, class T>
void gemm_fixed_depth(Trans ta, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
                      index_t ldb, T beta, const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  if (K == 16)
    gemm_fixed_depth_k<Arch, T, 16>(ta, M, N, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
  else if (K == 32)
    gemm_fixed_depth_k<Arch, T, 32>(ta, M, N, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
  else
    gemm_fixed_depth_k<Arch, T, 64>(ta, M, N, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
}

}  // namespace
}  // namespace tapelab::kernels::detail
