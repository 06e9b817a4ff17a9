#pragma once
// Masked loads and stores of the first n lanes of a vector, where the architecture has them in hardware.
//
// AVX-512 masks every load and store per lane, and a masked-off lane is neither read nor written (no fault past
// the end of an array, no store past the end of a row). A row tail of n < W elements, or a partial GEMM tile,
// is then one masked instruction instead of a copy through a buffer on the stack. xsimd 8.1 exposes no masked
// memory operations, hence the intrinsics. Elsewhere (AVX2, SSE2) kAvailable is false and callers keep their
// buffer-based tails. Masked and unmasked paths compute every lane with the same instructions, so results do not
// depend on which path an element took.
#include <immintrin.h>

#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
struct TailMask {
  static constexpr bool kAvailable = false;
};

template <class T>
struct TailMask<xsimd::avx512f, T> {
  static constexpr bool kAvailable = true;
  using B = xsimd::batch<T, xsimd::avx512f>;
  using Mask = std::conditional_t<sizeof(T) == 8, __mmask8, __mmask16>;

  // The first n lanes, n in [0, W].
  static Mask first(index_t n) { return Mask((1u << n) - 1u); }
  // Lanes outside the mask read as zero.
  static B load(const T* p, Mask m) {
    if constexpr (sizeof(T) == 8)
      return B(_mm512_maskz_loadu_pd(m, p));
    else
      return B(_mm512_maskz_loadu_ps(m, p));
  }
  static void store(T* p, Mask m, const B& v) {
    if constexpr (sizeof(T) == 8)
      _mm512_mask_storeu_pd(p, m, v);
    else
      _mm512_mask_storeu_ps(p, m, v);
  }
};

}  // namespace
}  // namespace tapelab::kernels::detail
