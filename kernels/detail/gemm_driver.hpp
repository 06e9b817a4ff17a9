#pragma once
// The GEMM driver for one architecture: cache blocking, packing, threading and edge tiles around the
// micro-kernel (BLIS's five loops, minus the ones a single socket does not need).
//
//   for jc in N step NC            columns of C
//     for pc in K step KC          depth: a packed B block (KC x NC) is shared by all threads
//       for unit (ic, jr-group)    output tiles, split over OpenMP threads; each packs its own A block
//         for jr in group step NR
//           for ir in MC step MR   micro-kernel on one MR x NR tile of C
//
// K is never split across threads and every C tile sees the pc blocks in the same order, so the result does not
// depend on the thread count. The small-shape path (M <= kDirectMaxM) skips packing where the layout allows: the
// micro-kernel reads A in place (either transpose, via strides) and B in place when op(B) = B; only edge tiles
// and transposed B are packed, into small per-thread buffers.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <numeric>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/gemm_blocking.hpp"
#include "kernels/detail/gemm_dot.hpp"
#include "kernels/detail/gemm_gemv.hpp"
#include "kernels/detail/gemm_microkernel.hpp"
#include "kernels/detail/gemm_pack.hpp"
#include "kernels/detail/gemm_fixed_depth.hpp"
#include "kernels/detail/simd_activations.hpp"
#include "kernels/detail/simd_elementwise.hpp"
#include "kernels/detail/simd_mask.hpp"
#include "kernels/gemm.hpp"

namespace tapelab::kernels::detail {
namespace {

// Below this many multiply-adds a GEMM runs on one thread (waking the team costs more than it saves).
constexpr index_t kGemmParallelMacs = index_t(1) << 21;

// A C of at most this many elements (256 KB of doubles: well inside L2) gets its epilogue in one pass at the end.
constexpr index_t kEpilogueAtEndElements = index_t(1) << 15;

// A growable 64-byte-aligned scratch buffer, one per thread and role: after the first call of a given size no
// GEMM allocates (the autodiff tape relies on this for its allocation-free training step).
template <class T, int kRole>
T* scratch(index_t count) {
  struct Buffer {
    T* data = nullptr;
    index_t capacity = 0;
    ~Buffer() { ::operator delete[](data, std::align_val_t(64)); }
  };
  thread_local Buffer buf;
  if (count > buf.capacity) {
    ::operator delete[](buf.data, std::align_val_t(64));
    buf.data = static_cast<T*>(::operator new[](sizeof(T) * static_cast<size_t>(count), std::align_val_t(64)));
    buf.capacity = count;
  }
  return buf.data;
}

// C = beta * C (beta == 0 writes zeros without reading C).
template <class T>
void scale_c(index_t m, index_t n, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Fused epilogue on an m x n tile of C at (i0, j0): add the bias, keep the pre-activation, apply σ (and σ').
template <class Arch, class T>
void apply_epilogue(const GemmEpilogue<T>& ep, index_t i0, index_t j0, index_t m, index_t n, T* C, index_t ldc) {
  T* tile = C + i0 * ldc + j0;
  if (ep.bias_mode == Bias::per_row) simd_add_col_vector<Arch, T>(m, n, ep.bias + i0, tile, ldc);
  if (ep.bias_mode == Bias::per_col) simd_add_row_vector<Arch, T>(m, n, ep.bias + j0, tile, ldc);
  if (ep.pre_activation != nullptr)
    simd_copy<Arch, T>(m, n, tile, ldc, ep.pre_activation + i0 * ep.ld_pre_activation + j0, ep.ld_pre_activation);
  if (ep.derivative != nullptr)
    simd_activation_forward_with_derivative<Arch, T>(ep.activation, m, n, tile, ldc, tile, ldc,
                                                     ep.derivative + i0 * ep.ld_derivative + j0, ep.ld_derivative);
  else if (ep.activation != Activation::identity)
    simd_activation_forward<Arch, T>(ep.activation, m, n, tile, ldc, tile, ldc);
}

// Runs the micro-kernel on one tile of m <= MR rows and n <= NR columns. A full tile goes straight to C. A
// partial one: with hardware masks, a tile of MR rows is computed and stored masked (one vector wide when
// n <= W), b read in place; otherwise (or with fewer rows) it goes through a local buffer, so that the kernel
// itself needs no row tail. Without masks, b must then be readable for all NR columns (a packed panel).
template <class Arch, class T, int MR, int NV, bool kPackedA, bool kPackedB>
void run_tile(index_t kc, const T* a, index_t ars, index_t aks, const T* b, index_t bks, T alpha, T beta,
              const T* c_in, index_t ldc_in, T* c, index_t ldc, index_t m, index_t n) {
  constexpr int W = static_cast<int>(xsimd::batch<T, Arch>::size), NR = NV * W;
  if (m == MR && n == NR) {
    micro_kernel<Arch, T, MR, NV, kPackedA, kPackedB>(kc, a, ars, aks, b, bks, alpha, beta, c_in, ldc_in, c, ldc);
    return;
  }
  alignas(64) T tmp[MR * NR];
  if constexpr (TailMask<Arch, T>::kAvailable) {
    T* out = m == MR ? c : tmp;
    const T al = m == MR ? alpha : T(1), be = m == MR ? beta : T(0);
    const index_t ld = m == MR ? ldc : NR;
    // (b's k stride passed at run time: a packed panel is NR wide even when the kernel is one vector wide.)
    if (n <= W)
      micro_kernel<Arch, T, MR, 1, kPackedA, false, true>(kc, a, ars, aks, b, bks, al, be, c_in, ldc_in, out, ld, n);
    else
      micro_kernel<Arch, T, MR, NV, kPackedA, false, true>(kc, a, ars, aks, b, bks, al, be, c_in, ldc_in, out, ld, n);
    if (m == MR) return;
  } else {
    micro_kernel<Arch, T, MR, NV, kPackedA, kPackedB>(kc, a, ars, aks, b, bks, T(1), T(0), nullptr, 0, tmp, NR);
  }
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j)
      c[i * ldc + j] = alpha * tmp[i * NR + j] + (beta == T(0) ? T(0) : beta * c_in[i * ldc_in + j]);
}

// Everything one GEMM call needs, passed to the (possibly parallel) blocked loops.
template <class T>
struct GemmProblem {
  Trans ta, tb;
  index_t M, N, K;
  T alpha;
  const T* A;
  index_t lda;
  const T* B;
  index_t ldb;
  T beta;
  const T* C_in;  // what beta scales: C itself, or GemmEpilogue::c_in
  index_t ldc_in;
  T* C;
  index_t ldc;
  const GemmEpilogue<T>* ep;  // applied tile by tile (nullptr: none, or applied to all of C afterwards)
  bool direct_a, direct_b;  // read op(A) / op(B) in place instead of packing
  T* b_packed;              // the shared packed B block (unused when direct_b)
};

// The blocked loops. With kParallel, called by every thread of a parallel region (the `omp for` loops are
// orphaned work-sharing constructs); without, by one thread, touching no OpenMP at all (small GEMMs on the tape).
template <class Arch, class T, int MR, int NV, bool kParallel>
void gemm_blocked(const GemmProblem<T>& g, int threads) {
  using Blk = GemmBlocking<Arch, T>;
  constexpr int W = static_cast<int>(xsimd::batch<T, Arch>::size), NR = NV * W;
  // MC rounded down to whole MR tiles: the direct path's MR (8) does not divide MC (140), and every block
  // would end in a row tail, packed and computed through a buffer once per column panel.
  constexpr index_t KC = Blk::KC, MC = std::max<index_t>(MR, Blk::MC / MR * MR);
  const index_t NC = g.direct_a ? Blk::NC_direct : Blk::NC;
  const index_t M = g.M, N = g.N, K = g.K, lda = g.lda, ldb = g.ldb, ldc = g.ldc;
  const T* A = g.A;
  const T* B = g.B;
  T* C = g.C;

  const index_t kc_max = std::min(K, KC);
  T* a_packed = g.direct_a ? nullptr : scratch<T, 1>(((std::min(M, MC) + MR - 1) / MR) * MR * kc_max);
  T* a_edge = scratch<T, 2>(MR * kc_max);  // an M-tail panel in the direct path
  T* b_edge = scratch<T, 3>(NR * kc_max);  // an N-tail panel in the direct path
  const index_t n_ic = (M + MC - 1) / MC;

  for (index_t jc = 0; jc < N; jc += NC) {
    const index_t nc = std::min(NC, N - jc);
    const index_t n_panels = (nc + NR - 1) / NR;
    // Enough units for every thread: split the columns into groups when there are few row blocks.
    const index_t groups = std::min<index_t>(n_panels, std::max<index_t>(1, (2 * threads + n_ic - 1) / n_ic));
    const index_t panels_per_group = (n_panels + groups - 1) / groups;

    for (index_t pc = 0; pc < K; pc += KC) {
      const index_t kc = std::min(KC, K - pc);
      // The first depth block applies beta to C_in; later ones add to the partial sums already in C.
      const T beta_eff = pc == 0 ? g.beta : T(1);
      const T* c_in_base = pc == 0 ? g.C_in : C;
      const index_t ldc_in = pc == 0 ? g.ldc_in : ldc;
      const bool last = pc + kc == K;

      if (!g.direct_b) {
        auto pack_panel = [&](index_t p) {
          pack_b_panel<Arch, T, NR>(g.tb, B, ldb, pc, kc, jc + p * NR, std::min<index_t>(NR, nc - p * NR),
                              g.b_packed + p * NR * kc);
        };
        if constexpr (kParallel) {
#pragma omp for schedule(static)
          for (index_t p = 0; p < n_panels; ++p) pack_panel(p);
        } else if (g.tb == Trans::N) {
          pack_b_rows<Arch, T, NR>(B, ldb, pc, kc, jc, nc, g.b_packed);
        } else {
          for (index_t p = 0; p < n_panels; ++p) pack_panel(p);
        }
      }

      index_t packed_ic = -1;  // which A block this thread holds packed for this (jc, pc)
      auto compute_unit = [&](index_t unit) {
        const index_t ic = (unit / groups) * MC;
        const index_t mc = std::min(MC, M - ic);
        const index_t p_begin = (unit % groups) * panels_per_group;
        const index_t p_end = std::min(n_panels, p_begin + panels_per_group);
        if (!g.direct_a && packed_ic != ic) {
          pack_a<Arch, T, MR>(g.ta, A, lda, ic, mc, pc, kc, a_packed);
          packed_ic = ic;
        }
        for (index_t p = p_begin; p < p_end; ++p) {
          const index_t jr = p * NR;
          const index_t nr = std::min<index_t>(NR, nc - jr);
          // Where this column panel of op(B) is read from: the packed block, B itself, or a packed edge panel.
          const T* b = nullptr;
          index_t bks = NR;
          bool b_in_place = false;
          // A panel exactly one vector wide (N = 8 doubles, say) is read in place by a one-vector kernel
          // instead of being padded to NR: tiny GEMMs on the tape are mostly such panels.
          const bool one_vector = g.direct_b && nr == W;
          if (!g.direct_b) {
            b = g.b_packed + p * NR * kc;
          } else if (nr == NR || one_vector) {
            b = B + pc * ldb + jc + jr;
            bks = ldb;
            b_in_place = true;
          }
          // With hardware masks an N-tail panel is read in place too (masked loads never read past column nr).
          if (TailMask<Arch, T>::kAvailable && g.direct_b && nr < NR) {
            b = B + pc * ldb + jc + jr;
            bks = ldb;
            b_in_place = true;
          }
          for (index_t ir = 0; ir < mc; ir += MR) {
            const index_t mr = std::min<index_t>(MR, mc - ir);
            T* c = C + (ic + ir) * ldc + jc + jr;
            const T* c_in = c_in_base + (ic + ir) * ldc_in + jc + jr;
            if (one_vector && g.direct_a && mr == MR) {
              const index_t row = ic + ir;
              const T* a = g.ta == Trans::N ? A + row * lda + pc : A + pc * lda + row;
              micro_kernel<Arch, T, MR, 1, false, false>(kc, a, g.ta == Trans::N ? lda : 1,
                                                          g.ta == Trans::N ? 1 : lda, B + pc * ldb + jc + jr, ldb,
                                                          g.alpha, beta_eff, c_in, ldc_in, c, ldc);
              if (last && g.ep != nullptr) apply_epilogue<Arch, T>(*g.ep, ic + ir, jc + jr, mr, nr, C, ldc);
              continue;
            }
            if (!TailMask<Arch, T>::kAvailable && g.direct_b && nr < NR &&
                (b_in_place || b == nullptr)) {  // an N-tail panel: pack it once
              pack_b_panel<Arch, T, NR>(g.tb, B, ldb, pc, kc, jc + jr, nr, b_edge);
              b = b_edge;
              bks = NR;
              b_in_place = false;
            }
            if (!g.direct_a || mr < MR) {
              const T* a;
              if (!g.direct_a) {
                a = a_packed + ir * kc;
              } else {
                pack_a<Arch, T, MR>(g.ta, A, lda, ic + ir, mr, pc, kc, a_edge);
                a = a_edge;
              }
              if (b_in_place)
                run_tile<Arch, T, MR, NV, true, false>(kc, a, 1, MR, b, bks, g.alpha, beta_eff, c_in, ldc_in, c, ldc, mr,
                                                   nr);
              else
                run_tile<Arch, T, MR, NV, true, true>(kc, a, 1, MR, b, NR, g.alpha, beta_eff, c_in, ldc_in, c, ldc, mr, nr);
            } else {
              // A read in place: op(A)[i, k] is A[i*lda + k] (N) or A[k*lda + i] (T).
              const index_t row = ic + ir;
              const T* a = g.ta == Trans::N ? A + row * lda + pc : A + pc * lda + row;
              const index_t ars = g.ta == Trans::N ? lda : 1;
              const index_t aks = g.ta == Trans::N ? 1 : lda;
              if (b_in_place)
                run_tile<Arch, T, MR, NV, false, false>(kc, a, ars, aks, b, bks, g.alpha, beta_eff, c_in, ldc_in, c, ldc,
                                                    mr, nr);
              else
                run_tile<Arch, T, MR, NV, false, true>(kc, a, ars, aks, b, NR, g.alpha, beta_eff, c_in, ldc_in, c, ldc, mr,
                                                   nr);
            }
            if (last && g.ep != nullptr) apply_epilogue<Arch, T>(*g.ep, ic + ir, jc + jr, mr, nr, C, ldc);
          }
        }
      };
      if constexpr (kParallel) {
#pragma omp for schedule(static)
        for (index_t unit = 0; unit < n_ic * groups; ++unit) compute_unit(unit);
        // implicit barrier: the packed B block is overwritten for the next pc only after everyone is done
      } else {
        for (index_t unit = 0; unit < n_ic * groups; ++unit) compute_unit(unit);
      }
    }
  }
}

// The tape's GEMMs: few rows (M a multiple of MR_small, at most kDirectMaxMForB), one depth block (K <= KC),
// op(B) = B read in place, one thread. Just the two loops around the micro-kernel: column panels outside (the
// K x NR panel of B stays in L1 while every row tile uses it), row tiles inside, A read in place (either
// transpose, via strides). The tile is MR_small x NV_small vectors (gemm_blocking.hpp); the edge panel (N %
// NR columns) is one masked tile per row block, only as many vectors wide as it needs. Without hardware masks
// its whole vectors are a narrower tile reading B in place, and only its last N % W columns go through a
// buffer.
template <class Arch, class T, int MR, int NV>
void small_edge(index_t n, index_t K, const T* a, index_t ars, index_t aks, const T* b, index_t ldb, T alpha, T beta,
                const T* c_in, index_t ldc_in, T* c, index_t ldc) {
  constexpr int W = static_cast<int>(xsimd::batch<T, Arch>::size);
  if constexpr (NV > 1) {
    if (n <= (NV - 1) * W) {
      small_edge<Arch, T, MR, NV - 1>(n, K, a, ars, aks, b, ldb, alpha, beta, c_in, ldc_in, c, ldc);
      return;
    }
  }
  // An edge of whole vectors (N = 32 floats: half a tile) needs no masks.
  if (n == NV * W)
    micro_kernel<Arch, T, MR, NV, false, false>(K, a, ars, aks, b, ldb, alpha, beta, c_in, ldc_in, c, ldc);
  else
    micro_kernel<Arch, T, MR, NV, false, false, true>(K, a, ars, aks, b, ldb, alpha, beta, c_in, ldc_in, c, ldc, n);
}

// Whether a K-row panel of B read in place (rows ldb apart) crowds into a few sets of the L1 cache. A set
// holds the lines whose addresses agree modulo 4 KB (64 sets of 64-byte lines, on every x86 core in use), so
// rows a multiple of 4 KB apart all fall into the same sets, rows 2 KB apart into two groups, and so on. With
// more than 4 rows per group the panel outgrows the 8 to 12 ways and evicts itself between row tiles: at 64 x
// 1024 x 64 in double (rows 8 KB apart) the in-place panel ran at 0.75 of OpenBLAS.
template <class T>
bool b_panel_conflicts(index_t ldb, index_t K) {
  const index_t stride = ldb * index_t(sizeof(T));
  const index_t groups = 4096 / std::gcd(stride, index_t(4096));  // distinct 4 KB offsets of the rows
  return K > 4 * groups;
}

// One column panel of gemm_small: M / MR row tiles (M a multiple of MR). kBufferedN: a panel only n < NV * W
// columns wide, b packed NV * W wide with zeros past n (no hardware masks): each tile goes through run_tile's
// buffer.
template <class Arch, class T, int MR, int NV, bool kPackedB, bool kBufferedN = false, class ARows>
void small_panel_rows(index_t M, index_t K, const ARows& a_rows, index_t ars, index_t aks, const T* b,
                      index_t bks, T alpha, T beta, const T* c_in, index_t ldc_in, T* c, index_t ldc,
                      index_t n = 0) {
  for (index_t i = 0; i < M; i += MR) {
    if constexpr (kBufferedN)
      run_tile<Arch, T, MR, NV, false, true>(K, a_rows(i), ars, aks, b, bks, alpha, beta, c_in + i * ldc_in,
                                             ldc_in, c + i * ldc, ldc, MR, n);
    else
      micro_kernel<Arch, T, MR, NV, false, kPackedB>(K, a_rows(i), ars, aks, b, bks, alpha, beta,
                                                     c_in + i * ldc_in, ldc_in, c + i * ldc, ldc);
  }
}

// gemm_small's edge of nvec < NV whole vectors, B in place, as tiles nvec vectors wide (no masks needed).
template <class Arch, class T, int MR, int NV, class ARows>
void small_edge_vectors(index_t nvec, index_t M, index_t K, const ARows& a_rows, index_t ars, index_t aks,
                        const T* b, index_t ldb, T alpha, T beta, const T* c_in, index_t ldc_in, T* c,
                        index_t ldc) {
  if constexpr (NV > 1) {
    if (nvec < NV) {
      small_edge_vectors<Arch, T, MR, NV - 1>(nvec, M, K, a_rows, ars, aks, b, ldb, alpha, beta, c_in, ldc_in,
                                              c, ldc);
      return;
    }
  }
  small_panel_rows<Arch, T, MR, NV, false>(M, K, a_rows, ars, aks, b, ldb, alpha, beta, c_in, ldc_in, c, ldc);
}

template <class Arch, class T>
[[gnu::flatten]] void gemm_small(Trans ta, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
                                 const T* B, index_t ldb, T beta, const T* C_in, index_t ldc_in, T* C, index_t ldc) {
  using Blk = GemmBlocking<Arch, T>;
  constexpr int MR = Blk::MR_small, NV = Blk::NV_small, W = static_cast<int>(xsimd::batch<T, Arch>::size);
  constexpr int NR = NV * W;
  const index_t ars = ta == Trans::N ? lda : 1, aks = ta == Trans::N ? 1 : lda;
  auto a_rows = [&](index_t i) { return ta == Trans::N ? A + i * lda : A + i; };
  index_t j = 0;
  if (b_panel_conflicts<T>(ldb, K) && M >= 4 * MR) {
    // The K x NR panel of B, read in place, would sit in a few L1 sets only (see b_panel_conflicts) and be
    // evicted by itself between row tiles: copy it to a contiguous buffer once, then every row tile reads
    // that.
    using V = xsimd::batch<T, Arch>;
    T* panel = scratch<T, 3>(K * NR);
    for (; j + NR <= N; j += NR) {
      for (index_t k = 0; k < K; ++k)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v)
          V::load_unaligned(B + k * ldb + j + v * W).store_aligned(panel + k * NR + v * W);
      small_panel_rows<Arch, T, MR, NV, true>(M, K, a_rows, ars, aks, panel, NR, alpha, beta, C_in + j,
                                              ldc_in, C + j, ldc);
    }
  }
  for (; j + NR <= N; j += NR)
    small_panel_rows<Arch, T, MR, NV, false>(M, K, a_rows, ars, aks, B + j, ldb, alpha, beta, C_in + j,
                                             ldc_in, C + j, ldc);
  if constexpr (TailMask<Arch, T>::kAvailable) {
    if (j < N && NV >= 4 && N - j <= 2 * W && M % (2 * MR) == 0) {
      // An edge at most two vectors wide (N = 32 floats) twice as tall: 2 MR x 2 vectors is as many accumulators
      // as a whole tile, where MR x 2 would leave the FMA units waiting on the broadcasts of A.
      for (index_t i = 0; i < M; i += 2 * MR)
        small_edge<Arch, T, 2 * MR, 2>(N - j, K, a_rows(i), ars, aks, B + j, ldb, alpha, beta,
                                       C_in + i * ldc_in + j, ldc_in, C + i * ldc + j, ldc);
    } else if (j < N) {
      for (index_t i = 0; i < M; i += MR)
        small_edge<Arch, T, MR, NV>(N - j, K, a_rows(i), ars, aks, B + j, ldb, alpha, beta, C_in + i * ldc_in + j,
                                    ldc_in, C + i * ldc + j, ldc);
    }
  } else if (j < N) {
    // Without masks: the edge's whole vectors as a narrower tile, B in place (N = 100 doubles on AVX2: one
    // vector); then the last N % W columns, if any, packed once into a zero-padded K x W panel, each
    // one-vector tile computed into a buffer and those columns written out (run_tile).
    const index_t whole = (N - j) / W * W;
    if constexpr (NV > 1) {
      if (whole > 0)
        small_edge_vectors<Arch, T, MR, NV - 1>(whole / W, M, K, a_rows, ars, aks, B + j, ldb, alpha, beta,
                                                C_in + j, ldc_in, C + j, ldc);
    }
    j += whole;
    if (j < N) {
      T* edge = scratch<T, 3>(K * W);
      pack_b_panel<Arch, T, W>(Trans::N, B, ldb, 0, K, j, N - j, edge);
      small_panel_rows<Arch, T, MR, 1, true, true>(M, K, a_rows, ars, aks, edge, W, alpha, beta, C_in + j,
                                                   ldc_in, C + j, ldc, N - j);
    }
  }
}

template <class Arch, class T>
void gemm_driver(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
                 index_t ldb, T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep) {
  using Blk = GemmBlocking<Arch, T>;
  constexpr int NR = Blk::NV * static_cast<int>(xsimd::batch<T, Arch>::size);  // (the packed path's panels)

  // What beta scales (GemmEpilogue::c_in, else C). The paths other than the blocked loops first copy it into C.
  const bool separate_c_in = ep != nullptr && ep->c_in != nullptr && ep->c_in != C && beta != T(0);
  const T* C_in = separate_c_in ? ep->c_in : C;
  const index_t ldc_in = separate_c_in ? ep->ld_c_in : ldc;
  auto c_in_into_c = [&] {
    if (separate_c_in) simd_copy<Arch, T>(M, N, C_in, ldc_in, C, ldc);
  };

  if (K == 0 || alpha == T(0)) {  // nothing to multiply: C = beta * C_in, then the epilogue
    c_in_into_c();
    scale_c(M, N, beta, C, ldc);
    if (ep != nullptr) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
    return;
  }

  if (M == 1 || N == 1) {  // one row or column: vector loops, no tiles (see gemm_gemv.hpp)
    c_in_into_c();
    gemm_gemv<Arch, T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch<T, 4>(K));
    if (ep != nullptr) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
    return;
  }

  const bool parallel = M * N * K >= kGemmParallelMacs && omp_get_max_threads() > 1 && !omp_in_parallel();
  const int threads = parallel ? omp_get_max_threads() : 1;

  // Depths 16, 32, 64 (the ResNet widths), B as stored: tiles whose k loop unrolls (gemm_fixed_depth.hpp),
  // rows outside, so B must stay in L1 while each row block walks it: at 64 x 256 x 64 in double (B 128 KB)
  // they ran at 0.98 of OpenBLAS against gemm_small's 1.35, at 64 x 32 x 64 in float (B 8 KB) at 1.05 against
  // 0.88. Depth 16 always, whatever N (B read 8 rows at a time is cheap to stream from L2; at 16 x 1024 x 16,
  // rows of 4 KB, 0.94 -> 1.04-1.10 of OpenBLAS in float and 0.95-0.98 -> 1.07-1.08 in double against
  // gemm_small on a Zen 4). Deeper, rows of 4 KB or more stay on gemm_small, which copies a B panel whose
  // rows crowd into a few L1 sets.
  if constexpr (TailMask<Arch, T>::kAvailable) {
    const index_t row_bytes = N * index_t(sizeof(T));
    if (tb == Trans::N && has_fixed_depth(M, K) &&
        (K == 16 || (row_bytes < 4096 && K * row_bytes <= 32 * 1024)) && M <= Blk::kDirectMaxMForB &&
        !parallel && (ep == nullptr || M * N <= kEpilogueAtEndElements)) {
      gemm_fixed_depth<Arch, T>(ta, M, N, K, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
      if (ep != nullptr) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
      return;
    }
  }

  // A * B^T with few rows and columns: dot products, nothing packed (see gemm_dot.hpp).
  if (ta == Trans::N && tb == Trans::T && M <= Blk::kDotMaxMN && N <= Blk::kDotMaxMN &&
      K >= 4 * index_t(xsimd::batch<T, Arch>::size)) {
    c_in_into_c();
    gemm_dot<Arch, T>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
    if (ep != nullptr) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
    return;
  }

  // Read A in place: few rows, or few column panels of B (a packed A block would be reused by too few of
  // them).
  const bool direct_a = M <= Blk::kDirectMaxM || N <= Blk::kDirectMaxPanels * NR;
  const bool direct_b = M <= Blk::kDirectMaxMForB && tb == Trans::N;  // read B in place (rows of op(B) contiguous)
  // A small C (the tape's layers) takes its epilogue in one pass after the multiplication, while it is still in
  // cache: one long span instead of a call per tile (each with a partial row at the N edge). A large C takes it
  // tile by tile, before the tile leaves the cache.
  const bool epilogue_at_end = ep != nullptr && M * N <= kEpilogueAtEndElements;

  if (direct_b && !parallel && M % Blk::MR_small == 0 && K <= Blk::KC && (ep == nullptr || epilogue_at_end)) {
    gemm_small<Arch, T>(ta, M, N, K, alpha, A, lda, B, ldb, beta, C_in, ldc_in, C, ldc);
    if (ep != nullptr) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
    return;
  }

  const index_t kc_max = std::min(K, Blk::KC);
  const index_t nc_max = std::min(N, Blk::NC);
  // The shared packed B block belongs to the calling thread (so concurrent GEMMs from different threads are safe).
  // (Sized for the panels of either path: the direct path's may be narrower, NV_direct vectors.)
  constexpr int NR_direct = Blk::NV_direct * static_cast<int>(xsimd::batch<T, Arch>::size);
  const index_t nc_padded = std::max((nc_max + NR - 1) / NR * NR, (nc_max + NR_direct - 1) / NR_direct * NR_direct);
  T* b_packed = direct_b ? nullptr : scratch<T, 0>(nc_padded * kc_max);
  const GemmProblem<T> prob{ta,     tb,  M,  N,   K,
                            alpha,  A,   lda, B,  ldb,
                            beta,   C_in, ldc_in, C, ldc,
                            epilogue_at_end ? nullptr : ep, direct_a, direct_b, b_packed};
  // The direct path uses a tile height that divides the ResNet widths; the packed path the one that is fastest.
  if (parallel) {
    auto run = direct_a ? &gemm_blocked<Arch, T, Blk::MR_direct, Blk::NV_direct, true>
                        : &gemm_blocked<Arch, T, Blk::MR, Blk::NV, true>;
#pragma omp parallel num_threads(threads)
    run(prob, threads);
  } else {
    auto run = direct_a ? &gemm_blocked<Arch, T, Blk::MR_direct, Blk::NV_direct, false>
                        : &gemm_blocked<Arch, T, Blk::MR, Blk::NV, false>;
    run(prob, 1);
  }
  if (epilogue_at_end) apply_epilogue<Arch, T>(*ep, 0, 0, M, N, C, ldc);
}

}  // namespace
}  // namespace tapelab::kernels::detail
