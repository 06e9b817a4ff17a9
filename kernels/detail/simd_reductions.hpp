#pragma once
// Reductions for one xsimd architecture (see kernels/reductions.hpp for the contracts).
// PLACEHOLDER: serial scalar loops; the vectorised, chunk-parallel bodies replace these.
#include <cmath>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T> T simd_sum(index_t r, index_t c, const T* x, index_t ldx) {
  T s = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j];
  return s;
}
template <class Arch, class T> T simd_dot(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy) {
  T s = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j] * y[i * ldy + j];
  return s;
}
template <class Arch, class T> T simd_squared_norm(index_t r, index_t c, const T* x, index_t ldx) {
  return simd_dot<Arch, T>(r, c, x, ldx, x, ldx);
}
template <class Arch, class T> T simd_max_abs(index_t r, index_t c, const T* x, index_t ldx) {
  T m = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T v = x[i * ldx + j];
      if (std::isnan(v)) return std::numeric_limits<T>::quiet_NaN();
      m = std::fabs(v) > m ? std::fabs(v) : m;
    }
  return m;
}

}  // namespace
}  // namespace tapelab::kernels::detail
