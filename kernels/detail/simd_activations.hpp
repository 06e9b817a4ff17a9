#pragma once
// Activation kernels for one xsimd architecture (see kernels/activations.hpp for the contracts).
// PLACEHOLDER: scalar formulas per element; the vectorised bodies replace these.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"
#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch, class T>
void simd_activation_forward(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] = scalar::activate(a, x[i * ldx + j]);
  });
}
template <class Arch, class T>
void simd_activation_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* d, index_t ldd) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) d[i * ldd + j] = scalar::derivative(a, x[i * ldx + j]);
  });
}
template <class Arch, class T>
void simd_activation_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy, index_t lddy,
                              T beta, T* dx, index_t lddx) {
  for_each_row(r, c, [&](index_t i) {
    for (index_t j = 0; j < c; ++j) {
      const T g = dy[i * lddy + j] * scalar::derivative(a, x[i * ldx + j]);
      dx[i * lddx + j] = (beta == T(0) ? T(0) : beta * dx[i * lddx + j]) + g;
    }
  });
}

}  // namespace
}  // namespace tapelab::kernels::detail
