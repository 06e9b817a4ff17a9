#pragma once
// Batch formulas behind the activation kernels, chosen to stay accurate and finite for every input: no
// exponential of a large positive number, no 1 - σ or 1 + tanh cancellation, NaN in gives NaN out.
//
// Why not xsimd's own functions everywhere (measured against long double, xsimd 8.1):
//   - xsimd::exp, expm1, log1p, tanh are within 2 ulp in float and double, and saturate cleanly: used as is
//     (exp flushes results below the smallest normal to 0, which no activation here can notice).
//   - xsimd::erf/erfc in double are off by up to ~70 ulp near |t| = 2.2 and ~24 ulp near 0, and erfc loses
//     relative accuracy entirely past 2.2 (3e4 ulp at 3, 5e7 ulp at 26): normal_cdf below sums a series
//     instead.
//
// B is an xsimd::batch<T, Arch>, so every function here is a template over the architecture and, in the
// unnamed namespace, private to its translation unit (see scalar_math.hpp).
#include <xsimd/xsimd.hpp>

#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class T>
constexpr T kInvSqrtPi = T(0.5641895835477562869);  // 1/sqrt(pi); 1/sqrt(2), 1/sqrt(2 pi) from scalar_math.hpp

// Logistic sigmoid from e = exp(-|x|) in [0, 1]: 1/(1+e) for x >= 0, e/(1+e) for x < 0.
template <class B>
B sigmoid_from(const B& x, const B& e) {
  return xsimd::select(x >= B(0), B(1), e) / (B(1) + e);
}

// σ(x)(1 - σ(x)) = e/(1+e)² with e = exp(-|x|): symmetric and without the 1 - σ cancellation for large x.
template <class B>
B sigmoid_slope_from(const B& e) {
  const B d = B(1) + e;
  return e / (d * d);
}

// The erf power series with positive terms (Abramowitz & Stegun 7.1.6):
//   erf(t) = 2/sqrt(pi) e^{-t²} t sum_{n>=0} c_n (t²)^n,   c_n = 2^n / (1·3·5···(2n+1)).
// No cancellation, so a Horner sum of kTerms terms is good to a few ulp for |t| < kLimit (terms needed for a
// relative tail below eps/2 at t = kLimit, checked with mpmath: 60 in double at 4, 30 in float at 3).
template <class T>
struct ErfSeries;
// Past kTailZero, erfc is below the smallest normal; xsimd::erfc returns NaN for |t| near the overflow of t².
template <>
struct ErfSeries<double> {
  static constexpr int kTerms = 60;
  static constexpr double kLimit = 4.0;
  static constexpr double kTailZero = 27.0;
};
template <>
struct ErfSeries<float> {
  static constexpr int kTerms = 30;
  static constexpr float kLimit = 3.0f;
  static constexpr float kTailZero = 10.0f;
};

// c_n computed in long double at compile time (11 spare bits over 60 products), then rounded once; padded
// with zeros to a multiple of 4 terms for the four-chain evaluation below.
template <class T>
struct ErfSeriesCoefficients {
  static constexpr int kPadded = (ErfSeries<T>::kTerms + 3) / 4 * 4;
  T c[kPadded];
  constexpr ErfSeriesCoefficients() : c{} {
    long double a = 1.0L;
    for (int n = 0; n < ErfSeries<T>::kTerms; ++n) {
      c[n] = static_cast<T>(a);
      a *= 2.0L / (2 * n + 3);
    }
  }
};
template <class T>
constexpr ErfSeriesCoefficients<T> kErfSeriesCoefficients{};

// sum_n c_n u^n as four interleaved Horner chains in w = u^4 (chain k holds c_k, c_{k+4}, ...): one chain of
// 60 dependent FMAs would leave the FMA units waiting on latency; four chains of 15 keep them busy. All terms
// stay positive, so the split costs no accuracy.
template <class B>
B erf_series(const B& u) {
  using T = typename B::value_type;
  using Coefficients = ErfSeriesCoefficients<T>;
  const auto& c = kErfSeriesCoefficients<T>.c;
  const B u2 = u * u;
  const B w = u2 * u2;
  constexpr int top = Coefficients::kPadded - 4;
  B p0(c[top]), p1(c[top + 1]), p2(c[top + 2]), p3(c[top + 3]);
  for (int m = top - 4; m >= 0; m -= 4) {
    p0 = xsimd::fma(p0, w, B(c[m]));
    p1 = xsimd::fma(p1, w, B(c[m + 1]));
    p2 = xsimd::fma(p2, w, B(c[m + 2]));
    p3 = xsimd::fma(p3, w, B(c[m + 3]));
  }
  return xsimd::fma(u2, xsimd::fma(u, p3, p2), xsimd::fma(u, p1, p0));
}

// Standard normal cdf Φ(x) = (1 + erf(x/√2))/2 and density φ(x) = exp(-x²/2)/√(2π), as gelu_erf needs both.
// Absolute error of Φ within a few eps. Beyond the series range the tail comes from xsimd::erfc: its relative
// error there is poor, but the tail is below 1e-8 (double) / 2e-5 (float), so Φ stays accurate in absolute
// terms, which is what x Φ(x) needs.
template <class B>
void normal_cdf_pdf(const B& x, B& cdf, B& pdf) {
  using T = typename B::value_type;
  const B t = x * B(scalar::kInvSqrt2<T>);
  const B u = t * t;
  const B e = xsimd::exp(-u);
  pdf = e * B(scalar::kInvSqrt2Pi<T>);
  cdf = B(T(0.5)) + B(kInvSqrtPi<T>) * t * e * erf_series(u);
  const auto in_series = xsimd::abs(t) < B(ErfSeries<T>::kLimit);  // false for NaN: the erfc branch keeps it
  if (!xsimd::all(in_series)) {
    const B at = xsimd::abs(t);
    const B upper =
        xsimd::select(at > B(ErfSeries<T>::kTailZero), B(0), B(T(0.5)) * xsimd::erfc(at));  // 1 - Φ(|x|)
    cdf = xsimd::select(in_series, cdf, xsimd::select(t > B(0), B(1) - upper, upper));
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail

