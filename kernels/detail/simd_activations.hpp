#pragma once
// Activation kernels for one xsimd architecture (see kernels/activations.hpp for the contracts).
//
// Each activation is a struct with batch functions value(x) = σ(x) and slope(x) = σ'(x); the three kernels
// pick the struct once per call and run it over spans (simd_util.hpp), so the switch is outside the loops.
// Conventions shared by all: NaN in gives NaN out (identity' = 1 is a constant and stays 1), large |x|
// saturates instead of overflowing, relu'(0) = 0. The formulas are the exact derivatives of activations.hpp,
// rearranged where the textbook form cancels or overflows (each says how).
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/simd_math.hpp"
#include "kernels/detail/simd_util.hpp"
#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::detail {
namespace {

struct IdentityAct {
  template <class B>
  static B value(const B& x) {
    return x;
  }
  template <class B>
  static B slope(const B&) {
    return B(1);
  }
};

struct ReluAct {
  // x <= 0 is false for NaN, so NaN passes through (a plain max(x, 0) would return 0 on x86).
  template <class B>
  static B value(const B& x) {
    return xsimd::select(x <= B(0), B(0), x);
  }
  template <class B>
  static B slope(const B& x) {
    return xsimd::select(x > B(0), B(1), xsimd::select(x <= B(0), B(0), x));
  }
};

struct TanhAct {
  // xsimd::tanh's two regimes (Cephes), with the exponential of exp_nonpositive: |x| < 5/8 an odd rational
  // x + x z P(z)/Q(z), z = x² (no cancellation near 0); else 1 - 2e/(1 + e) with e = exp(-2|x|) (at least 0.55,
  // so the subtraction loses nothing). xsimd's own version takes exp(2|x|) through its slow double exp.
  template <class B>
  static B value(const B& x) {
    using T = typename B::value_type;
    // Small pre-activations (|x| < 5/8 in every lane: the usual case for a residual branch) need no exponential.
    if (xsimd::all(xsimd::abs(x) < B(T(0.625)))) return with_sign(small(x), x);
    return value_from(x, exp_nonpositive(B(-2) * xsimd::abs(x)));
  }
  // 1 - tanh²x = sech²x = 4e/(1+e)², e = exp(-2|x|): keeps its relative accuracy where 1 - t² rounds to 0.
  template <class B>
  static B slope(const B& x) {
    return slope_from(exp_nonpositive(B(-2) * xsimd::abs(x)));
  }
  template <class B>
  static void value_and_slope(const B& x, B& v, B& d) {  // one exponential for both
    const B e = exp_nonpositive(B(-2) * xsimd::abs(x));
    v = value_from(x, e);
    d = slope_from(e);
  }
  template <class B>
  static B slope_from(const B& e) {
    const B d = B(1) + e;
    return B(4) * e / (d * d);
  }
  // tanh |x| for |x| < 5/8
  template <class B>
  static B small(const B& x) {
    using T = typename B::value_type;
    const B ax = xsimd::abs(x), z = x * x;
    if constexpr (std::is_same_v<T, double>) {  // Cephes tanh.c: relative error 2.2e-17 on [0, 5/8]
      const B p = xsimd::fma(xsimd::fma(B(-9.64399179425052238628e-1), z, B(-9.92877231001918586564e1)), z,
                             B(-1.61468768441708447952e3));
      const B q = xsimd::fma(xsimd::fma(z + B(1.12811678491632931402e2), z, B(2.23548839060100448583e3)), z,
                             B(4.84406305325125486048e3));
      return xsimd::fma(z * p / q, ax, ax);
    } else {  // Cephes tanhf.c
      const B p = xsimd::fma(
          xsimd::fma(xsimd::fma(xsimd::fma(B(-5.70498872745e-3f), z, B(2.06390887954e-2f)), z, B(-5.37397155531e-2f)), z,
                     B(1.33314422036e-1f)),
          z, B(-3.33332819422e-1f));
      return xsimd::fma(p * z, ax, ax);
    }
  }
  template <class B>
  static B with_sign(const B& r, const B& x) {  // tanh's sign is x's (also for -0)
    using T = typename B::value_type;
    return xsimd::bitwise_or(r, xsimd::bitwise_and(x, B(T(-0.0))));
  }
  template <class B>
  static B value_from(const B& x, const B& e) {
    using T = typename B::value_type;
    const B large = xsimd::fma(B(-2), e / (B(1) + e), B(1));
    // NaN: the comparison is false and large is NaN
    return with_sign(xsimd::select(xsimd::abs(x) < B(T(0.625)), small(x), large), x);
  }
};

struct SigmoidAct {
  template <class B>
  static B value(const B& x) {
    return sigmoid_from(x, exp_nonpositive(-xsimd::abs(x)));
  }
  template <class B>
  static B slope(const B& x) {
    return sigmoid_slope_from(exp_nonpositive(-xsimd::abs(x)));
  }
  template <class B>
  static void value_and_slope(const B& x, B& v, B& d) {  // one exponential for both
    const B e = exp_nonpositive(-xsimd::abs(x));
    v = sigmoid_from(x, e);
    d = sigmoid_slope_from(e);
  }
};

struct SoftplusAct {
  // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), as scalar_math.hpp. Operand order matters for NaN: xsimd::max
  // returns its second operand when either is NaN.
  template <class B>
  static B value(const B& x) {
    return xsimd::max(B(0), x) + xsimd::log1p(exp_nonpositive(-xsimd::abs(x)));
  }
  template <class B>
  static B slope(const B& x) {
    return SigmoidAct::value(x);
  }
  template <class B>
  static void value_and_slope(const B& x, B& v, B& d) {  // one exponential for both
    const B e = exp_nonpositive(-xsimd::abs(x));
    v = xsimd::max(B(0), x) + xsimd::log1p(e);
    d = sigmoid_from(x, e);
  }
};

struct GeluTanhAct {
  // z = 2u = 2c (x + a x³), and (1 + tanh u)/2 = sigmoid(2u): so σ(x) = x sigmoid(z) without the 1 + tanh u
  // cancellation for x < 0, and σ'(x) = s + x s(1-s) z', the tanh-form derivative with 1 - tanh²u = 4 s(1-s).
  // c and a are the constants of scalar_math.hpp, so both compute the same function.
  template <class B>
  static B z(const B& x) {
    using T = typename B::value_type;
    constexpr T k0 = 2 * scalar::kSqrt2OverPi<T>, k1 = k0 * scalar::kGeluCubic<T>;
    return x * xsimd::fma(B(k1), x * x, B(k0));
  }
  template <class B>
  static B dz(const B& x) {  // z'(x) = 2c (1 + 3 a x²)
    using T = typename B::value_type;
    constexpr T k0 = 2 * scalar::kSqrt2OverPi<T>, k3 = 3 * k0 * scalar::kGeluCubic<T>;
    return xsimd::fma(B(k3), x * x, B(k0));
  }
  template <class B>
  static B value(const B& x) {
    B v, d;
    value_and_slope(x, v, d);
    return v;
  }
  template <class B>
  static B slope(const B& x) {
    B v, d;
    value_and_slope(x, v, d);
    return d;
  }
  // Both from one exponential; value() and slope() return the same bits as this (they call it).
  template <class B>
  static void value_and_slope(const B& x, B& v, B& d) {
    const B zx = z(x);
    const B e = exp_nonpositive(-xsimd::abs(zx));
    const B s = sigmoid_from(zx, e);
    const B q = sigmoid_slope_from(e);
    v = xsimd::select(s == B(0), B(0), x * s);  // s == 0 only far left, where x may be -inf
    // q == 0 once |z| is past exp's range; skipping the term then avoids 0 * inf when x² overflows.
    d = xsimd::select(q == B(0), s, xsimd::fma(x * q, dz(x), s));
  }
};

struct GeluErfAct {
  // σ(x) = x Φ(x), σ'(x) = Φ(x) + x φ(x) with Φ, φ from normal_cdf_pdf (simd_math.hpp): one exponential and
  // one rational function give both, so the fused forward costs little more than the value alone.
  template <class B>
  static void value_and_slope(const B& x, B& v, B& d) {
    B cdf, pdf;
    normal_cdf_pdf(x, cdf, pdf);
    v = xsimd::select(cdf == B(0), B(0), x * cdf);                    // x = -inf gives 0, not -inf * 0
    d = xsimd::select(pdf == B(0), cdf, xsimd::fma(x, pdf, cdf));  // x = ±inf: Φ, not inf * 0
  }
  template <class B>
  static B value(const B& x) {
    B v, d;
    value_and_slope(x, v, d);
    return v;
  }
  template <class B>
  static B slope(const B& x) {
    B v, d;
    value_and_slope(x, v, d);
    return d;
  }
};

// v = σ(x), d = σ'(x) in one evaluation where the activation shares work between the two (value_and_slope),
// else the two separate formulas. Either way the bits equal those of value() and slope().
template <class Act, class B>
void value_and_slope(const B& x, B& v, B& d) {
  if constexpr (requires { Act::value_and_slope(x, v, d); }) {
    Act::value_and_slope(x, v, d);
  } else {
    v = Act::value(x);
    d = Act::slope(x);
  }
}

// Calls fn(Act{}) with the struct of activation a.
template <class Fn>
void with_activation(Activation a, const Fn& fn) {
  switch (a) {
    case Activation::identity:
      return fn(IdentityAct{});
    case Activation::tanh:
      return fn(TanhAct{});
    case Activation::relu:
      return fn(ReluAct{});
    case Activation::gelu_tanh:
      return fn(GeluTanhAct{});
    case Activation::gelu_erf:
      return fn(GeluErfAct{});
    case Activation::softplus:
      return fn(SoftplusAct{});
    case Activation::sigmoid:
      return fn(SigmoidAct{});
  }
}

// y = σ(x)
template <class Arch, class T>
void simd_activation_forward(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  with_activation(a, [&](auto act) {
    using Act = decltype(act);
    for_each_span(r, c, dense(r, c, ldx) && dense(r, c, ldy), [&](index_t i, index_t j0, index_t n) {
      map_span<Arch>(
          n, [](const auto& v) { return Act::value(v); }, y + i * ldy + j0, x + i * ldx + j0);
    });
  });
}

// d = σ'(x)
template <class Arch, class T>
void simd_activation_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* d,
                                index_t ldd) {
  with_activation(a, [&](auto act) {
    using Act = decltype(act);
    for_each_span(r, c, dense(r, c, ldx) && dense(r, c, ldd), [&](index_t i, index_t j0, index_t n) {
      map_span<Arch>(
          n, [](const auto& v) { return Act::slope(v); }, d + i * ldd + j0, x + i * ldx + j0);
    });
  });
}

// y = σ(x) and d = σ'(x) in one pass (y may be x itself: the GEMM epilogue works in place).
template <class Arch, class T>
void simd_activation_forward_with_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y,
                                             index_t ldy, T* d, index_t ldd) {
  with_activation(a, [&](auto act) {
    using Act = decltype(act);
    const bool flat = dense(r, c, ldx) && dense(r, c, ldy) && dense(r, c, ldd);
    for_each_span(r, c, flat, [&](index_t i, index_t j0, index_t n) {
      map_span_2<Arch>(
          n,
          [](const auto& v, auto& value, auto& slope) { value_and_slope<Act>(v, value, slope); },
          y + i * ldy + j0, d + i * ldd + j0, x + i * ldx + j0);
    });
  });
}

// y = σ(x) and dx = dy σ'(x) in one pass (y may be x, dx may be dy: each batch is loaded before the stores).
template <class Arch, class T>
void simd_activation_forward_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx,
                                      const T* dy, index_t lddy, T* y, index_t ldy, T* dx, index_t lddx) {
  with_activation(a, [&](auto act) {
    using Act = decltype(act);
    const bool flat = dense(r, c, ldx) && dense(r, c, lddy) && dense(r, c, ldy) && dense(r, c, lddx);
    for_each_span(r, c, flat, [&](index_t i, index_t j0, index_t n) {
      map_span_2<Arch>(
          n,
          [](const auto& v, const auto& g, auto& value, auto& grad) {
            value_and_slope<Act>(v, value, grad);
            grad = g * grad;  // as activation_backward: dy σ'(x)
          },
          y + i * ldy + j0, dx + i * lddx + j0, x + i * ldx + j0, dy + i * lddy + j0);
    });
  });
}

// dx = beta dx + dy σ'(x); beta == 0 never reads dx (it may hold NaN or garbage).
template <class Arch, class T>
void simd_activation_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy,
                              index_t lddy, T beta, T* dx, index_t lddx) {
  const Batch<Arch, T> b(beta);
  const bool flat = dense(r, c, ldx) && dense(r, c, lddy) && dense(r, c, lddx);
  with_activation(a, [&](auto act) {
    using Act = decltype(act);
    for_each_span(r, c, flat, [&](index_t i, index_t j0, index_t n) {
      T* dxi = dx + i * lddx + j0;
      const T* xi = x + i * ldx + j0;
      const T* dyi = dy + i * lddy + j0;
      if (beta == T(0)) {
        map_span<Arch>(
            n, [](const auto& xv, const auto& g) { return g * Act::slope(xv); }, dxi, xi, dyi);
      } else {
        map_span<Arch>(
            n,
            [&](const auto& xv, const auto& g, const auto& old) {
              return xsimd::fma(b, old, g * Act::slope(xv));
            },
            dxi, xi, dyi, static_cast<const T*>(dxi));
      }
    });
  });
}

}  // namespace
}  // namespace tapelab::kernels::detail

