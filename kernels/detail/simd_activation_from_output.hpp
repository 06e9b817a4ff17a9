#pragma once
// activation_backward_from_output for one xsimd architecture (contract in kernels/activations.hpp):
// dx = beta * dx + dy ⊙ σ'(x) with σ'(x) written through y = σ(x), so no exp is evaluated.
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_util.hpp"

namespace tapelab::kernels::detail {
namespace {

// σ'(x) from y = σ(x), on batches.
template <Activation kAct>
struct SlopeFromOutput {
  template <class V>
  static V slope(const V& y) {
    if constexpr (kAct == Activation::tanh) return V(1) - y * y;  // tanh' = 1 - tanh²
    if constexpr (kAct == Activation::sigmoid) return y * (V(1) - y);  // sigmoid' = s (1 - s)
    if constexpr (kAct == Activation::relu)  // 0 at the kink; NaN stays NaN
      return xsimd::select(y > V(0), V(1), xsimd::select(y <= V(0), V(0), y));
    return V(1);
  }
};

template <class Arch, class T, Activation kAct>
void backward_from_output(index_t r, index_t c, const T* y, index_t ldy, const T* dy, index_t lddy, T beta, T* dx,
                          index_t lddx) {
  using S = SlopeFromOutput<kAct>;
  const Batch<Arch, T> b(beta);
  const bool flat = dense(r, c, ldy) && dense(r, c, lddy) && dense(r, c, lddx);
  for_each_span(r, c, flat, [&](index_t i, index_t j0, index_t n) {
    T* dxi = dx + i * lddx + j0;
    const T* yi = y + i * ldy + j0;
    const T* dyi = dy + i * lddy + j0;
    if (beta == T(0)) {
      map_span<Arch>(n, [](const auto& yv, const auto& g) { return g * S::slope(yv); }, dxi, yi, dyi);
    } else {
      map_span<Arch>(
          n, [&](const auto& yv, const auto& g, const auto& old) { return xsimd::fma(b, old, g * S::slope(yv)); },
          dxi, yi, dyi, static_cast<const T*>(dxi));
    }
  });
}

template <class Arch, class T>
void simd_activation_backward_from_output(Activation a, index_t r, index_t c, const T* y, index_t ldy, const T* dy,
                                          index_t lddy, T beta, T* dx, index_t lddx) {
  switch (a) {
    case Activation::tanh:
      return backward_from_output<Arch, T, Activation::tanh>(r, c, y, ldy, dy, lddy, beta, dx, lddx);
    case Activation::sigmoid:
      return backward_from_output<Arch, T, Activation::sigmoid>(r, c, y, ldy, dy, lddy, beta, dx, lddx);
    case Activation::relu:
      return backward_from_output<Arch, T, Activation::relu>(r, c, y, ldy, dy, lddy, beta, dx, lddx);
    default:  // identity (the public entry point asserts derivative_from_output)
      return backward_from_output<Arch, T, Activation::identity>(r, c, y, ldy, dy, lddy, beta, dx, lddx);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail

