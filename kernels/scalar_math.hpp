#pragma once
// Scalar activation formulas: the oracle in reference.hpp and the tail loops of the SIMD kernels share them.
//
// They sit in an unnamed namespace on purpose: each architecture's translation unit is compiled with its own
// flags (-mavx512f ...), and an ordinary inline function instantiated there could be merged by the linker into
// the baseline build, putting AVX-512 instructions on a path that runs on an AVX2 machine. Unnamed-namespace
// functions are private to each translation unit, so no such merge can happen.
#include <cmath>

#include "kernels/common.hpp"

namespace tapelab::kernels::scalar {
namespace {

template <class T> constexpr T kSqrt2OverPi = T(0.7978845608028654);   // sqrt(2/pi), gelu tanh form
template <class T> constexpr T kGeluCubic = T(0.044715);
template <class T> constexpr T kInvSqrt2 = T(0.7071067811865476);      // 1/sqrt(2)
template <class T> constexpr T kInvSqrt2Pi = T(0.3989422804014327);    // 1/sqrt(2 pi), standard normal density

template <class T> T sigmoid(T x) {
  // Two branches so exp never overflows: for x < 0, e^x / (1 + e^x).
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T> T softplus(T x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): exact for large |x|, no overflow.
  return std::fmax(x, T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

template <class T> T activate(Activation a, T x) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::tanh: return std::tanh(x);
    case Activation::relu: return x <= T(0) ? T(0) : x;  // NaN stays NaN, as in the SIMD kernels
    case Activation::gelu_tanh: {
      const T u = kSqrt2OverPi<T> * (x + kGeluCubic<T> * x * x * x);
      return T(0.5) * x * (T(1) + std::tanh(u));
    }
    case Activation::gelu_erf: return T(0.5) * x * (T(1) + std::erf(x * kInvSqrt2<T>));
    case Activation::softplus: return softplus(x);
    case Activation::sigmoid: return sigmoid(x);
  }
  return x;
}

template <class T> T derivative(Activation a, T x) {
  switch (a) {
    case Activation::identity: return T(1);
    case Activation::tanh: {
      const T t = std::tanh(x);
      return T(1) - t * t;
    }
    case Activation::relu: return x > T(0) ? T(1) : (x <= T(0) ? T(0) : x);  // 0 at the kink; NaN stays NaN
    case Activation::gelu_tanh: {
      // d/dx [x/2 (1 + tanh u)] = (1 + tanh u)/2 + x/2 (1 - tanh² u) u',  u' = c (1 + 3 a x²)
      const T x2 = x * x;
      const T t = std::tanh(kSqrt2OverPi<T> * (x + kGeluCubic<T> * x2 * x));
      const T du = kSqrt2OverPi<T> * (T(1) + T(3) * kGeluCubic<T> * x2);
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
    }
    case Activation::gelu_erf:  // Φ(x) + x φ(x)
      return T(0.5) * (T(1) + std::erf(x * kInvSqrt2<T>)) + x * kInvSqrt2Pi<T> * std::exp(T(-0.5) * x * x);
    case Activation::softplus: return sigmoid(x);
    case Activation::sigmoid: {
      const T s = sigmoid(x);
      return s * (T(1) - s);
    }
  }
  return T(1);
}

// σ'(x) written through y = σ(x), for the activations where that is possible (kernels/activations.hpp).
template <class T> T derivative_from_output(Activation a, T y) {
  switch (a) {
    case Activation::tanh: return T(1) - y * y;
    case Activation::sigmoid: return y * (T(1) - y);
    case Activation::relu: return y > T(0) ? T(1) : (y <= T(0) ? T(0) : y);  // NaN stays NaN
    default: return T(1);
  }
}

}  // namespace
}  // namespace tapelab::kernels::scalar
