#pragma once
// Loop skeletons shared by the elementwise, activation and reduction kernels of one xsimd architecture.
//
// Tails: the last n % W elements of a span go through a zero-padded batch: a masked load and store on AVX-512
// (simd_mask.hpp), a copy through the stack elsewhere (xsimd 8.1 has no masked loads). Every element therefore
// takes the same vector formula wherever it sits in a row, so an activation of x gives the same bits in column 0
// and in the tail (a scalar tail would differ by an ulp or two).
//
// Everything here is templated on Arch and lives in an unnamed namespace (see scalar_math.hpp for why).
// (Two GCC 12.2 warnings are off for the architecture TUs that include these headers: kernels/CMakeLists.txt.)
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"
#include "kernels/detail/simd_mask.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
using Batch = xsimd::batch<T, Arch>;

// The first n (< W) elements of p in the low lanes, zeros above (a masked load where the CPU has one).
template <class Arch, class T>
Batch<Arch, T> load_partial(const T* p, index_t n) {
  if constexpr (TailMask<Arch, T>::kAvailable) {
    return TailMask<Arch, T>::load(p, TailMask<Arch, T>::first(n));
  } else {
    alignas(64) T buf[Batch<Arch, T>::size] = {};
    for (index_t k = 0; k < n; ++k) buf[k] = p[k];
    return Batch<Arch, T>::load_aligned(buf);
  }
}

// Writes the low n (< W) lanes of v to p; memory past p[n - 1] is not touched.
template <class Arch, class T>
void store_partial(T* p, index_t n, const Batch<Arch, T>& v) {
  if constexpr (TailMask<Arch, T>::kAvailable) {
    TailMask<Arch, T>::store(p, TailMask<Arch, T>::first(n), v);
  } else {
    alignas(64) T buf[Batch<Arch, T>::size];
    v.store_aligned(buf);
    for (index_t k = 0; k < n; ++k) p[k] = buf[k];
  }
}

// Sum of the lanes of v, as a halving tree: lane k += lane k + W/2, then k + W/4, ... down to lane 0. Not
// xsimd::hadd: in xsimd 8.1 its float version for avx512f uses _mm512_extractf32x8_ps, an AVX512DQ
// instruction that an -mavx512f translation unit may not emit. On AVX-512 and AVX2 the halves are added in
// registers; through memory (the portable version) each level waits on a store and a reload, which made the
// 16 x 16 x 256 weight gradient (256 reductions) take three times OpenBLAS's time. Same tree, so the same
// bits, on every target.
template <class Arch, class T>
T sum_lanes(const Batch<Arch, T>& v) {
  if constexpr (std::is_same_v<Arch, xsimd::avx512f> && std::is_same_v<T, float>) {
    const __m512 x = v;
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));   // lanes 8..15
    const __m256 y = _mm256_add_ps(_mm512_castps512_ps256(x), hi);                        // k += k + 8
    const __m128 z = _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));  // k += k + 4
    const __m128 u = _mm_add_ps(z, _mm_movehl_ps(z, z));                                  // k += k + 2
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));                         // 0 += 1
  } else if constexpr (std::is_same_v<Arch, xsimd::avx512f> && std::is_same_v<T, double>) {
    const __m512d x = v;
    const __m256d y = _mm256_add_pd(_mm512_castpd512_pd256(x), _mm512_extractf64x4_pd(x, 1));  // k += k + 4
    const __m128d z = _mm_add_pd(_mm256_castpd256_pd128(y), _mm256_extractf128_pd(y, 1));      // k += k + 2
    return _mm_cvtsd_f64(_mm_add_sd(z, _mm_unpackhi_pd(z, z)));                                // 0 += 1
  } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>> && std::is_same_v<T, float>) {
    const __m256 y = v;
    const __m128 z = _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));  // k += k + 4
    const __m128 u = _mm_add_ps(z, _mm_movehl_ps(z, z));                                  // k += k + 2
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));                         // 0 += 1
  } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>> && std::is_same_v<T, double>) {
    const __m256d y = v;
    const __m128d z = _mm_add_pd(_mm256_castpd256_pd128(y), _mm256_extractf128_pd(y, 1));  // k += k + 2
    return _mm_cvtsd_f64(_mm_add_sd(z, _mm_unpackhi_pd(z, z)));                            // 0 += 1
  } else {
    constexpr index_t W = Batch<Arch, T>::size;
    alignas(64) T lane[W];
    v.store_aligned(lane);
    for (index_t half = W / 2; half > 0; half /= 2)
      for (index_t k = 0; k < half; ++k) lane[k] += lane[k + half];
    return lane[0];
  }
}

// out[k] = op(in[k]...) for k in [0, n), op taking and returning batches. out may alias an input (in place):
// each batch is loaded before it is stored. flatten inlines op and the xsimd math it calls (exp, tanh ...)
// into the loop: batches then stay in registers instead of going through memory at every out-of-line call.
// GCC contracts a * b + c into FMAs per inlined copy of op (-ffp-contract=fast is its default), and two
// copies were seen to round differently: every copy here must give the same bits, which
// Activations.TailElementsMatchVectorBodyBitForBit checks on every target (a row through each copy).
template <class Arch, class T, class Op, class... In>
[[gnu::flatten]] void map_span(index_t n, const Op& op, T* out, const In*... in) {
  using B = Batch<Arch, T>;
  constexpr index_t W = B::size;
  index_t j = 0;
  // Two batches per step: a long formula (gelu_erf: an exponential and a rational function, ~50 dependent
  // operations) alone keeps the FMA units waiting on its own chain. On AVX2 GCC interleaves the two chains when
  // scheduling is on (-fschedule-insns for the AVX2 files, kernels/CMakeLists.txt); measured on a Zen 2:
  // gelu_erf forward 14.7 -> 13.2 us per 4096 doubles. On AVX-512 the out-of-order core overlaps them; measured
  // on a Zen 4 (2026-12-07, with the table exponential of simd_math.hpp): gelu_erf forward in double 6.7-7.7 ->
  // 6.2-6.4 us, tanh 4.6-5.8 -> 4.5-4.6; float unchanged.
  for (; j + 2 * W <= n; j += 2 * W) {
    const B r0 = op(B::load_unaligned(in + j)...);
    const B r1 = op(B::load_unaligned(in + j + W)...);
    r0.store_unaligned(out + j);
    r1.store_unaligned(out + j + W);
  }
  for (; j < n; j += W) {
    const index_t left = n - j;
    const B r = op((left >= W ? B::load_unaligned(in + j) : load_partial<Arch>(in + j, left))...);
    if (left >= W) {
      r.store_unaligned(out + j);
    } else {
      store_partial<Arch>(out + j, left, r);
    }
  }
}

// Two outputs: op(in[k]..., o1, o2) sets batches o1, o2, stored to out1[k], out2[k]. Same rules as map_span
// (the inputs may alias either output: each batch is loaded before anything is stored).
template <class Arch, class T, class Op, class... In>
[[gnu::flatten]] void map_span_2(index_t n, const Op& op, T* out1, T* out2, const In*... in) {
  using B = Batch<Arch, T>;
  constexpr index_t W = B::size;
  index_t j = 0;
  // Two batches per step: the long formulas behind two outputs (gelu_erf's Φ and φ) hold more constants than
  // there are registers, and each reload then serves both batches (measured: 6% on gelu_erf).
  for (; j + 2 * W <= n; j += 2 * W) {
    B r1[2], r2[2];
    op(B::load_unaligned(in + j)..., r1[0], r2[0]);
    op(B::load_unaligned(in + j + W)..., r1[1], r2[1]);
    for (int u = 0; u < 2; ++u) {
      r1[u].store_unaligned(out1 + j + u * W);
      r2[u].store_unaligned(out2 + j + u * W);
    }
  }
  for (; j < n; j += W) {
    const index_t left = n - j;
    B r1, r2;
    op((left >= W ? B::load_unaligned(in + j) : load_partial<Arch>(in + j, left))..., r1, r2);
    if (left >= W) {
      r1.store_unaligned(out1 + j);
      r2.store_unaligned(out2 + j);
    } else {
      store_partial<Arch>(out1 + j, left, r1);
      store_partial<Arch>(out2 + j, left, r2);
    }
  }
}

// Flattened elementwise work is cut into blocks of this many elements (a multiple of every vector width) so
// that a contiguous matrix, even a single long row, still spreads over threads.
constexpr index_t kFlatBlock = index_t(1) << 12;

// True if a rows x cols matrix with leading dimension ld is one unbroken run of rows * cols elements.
constexpr bool dense(index_t rows, index_t cols, index_t ld) { return rows <= 1 || ld == cols; }

// Calls span(i, j0, n) to cover the rows x cols index space with runs of n consecutive elements that start at
// (i, j0). If `flat` (every operand dense, see above), the matrix is one row of rows * cols elements (i == 0,
// j0 a flat offset), which keeps narrow matrices on the vector path; otherwise one call per row. In parallel
// above kParallelElements; the cut depends only on the shape, so results do not depend on the thread count.
template <class Span>
void for_each_span(index_t rows, index_t cols, bool flat, const Span& span) {
  if (!flat) {
    for_each_row(rows, cols, [&](index_t i) { span(i, index_t(0), cols); });
    return;
  }
  const index_t n = rows * cols;
  const index_t blocks = (n + kFlatBlock - 1) / kFlatBlock;
  if (n >= kParallelElements && blocks > 1) {
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < blocks; ++b) {
      const index_t j0 = b * kFlatBlock;
      span(index_t(0), j0, n - j0 < kFlatBlock ? n - j0 : kFlatBlock);
    }
  } else {
    span(index_t(0), index_t(0), n);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail

