#pragma once
// Batch formulas behind the activation kernels, chosen to stay accurate and finite for every input: no
// exponential of a large positive number, no 1 - σ or 1 + tanh cancellation, NaN in gives NaN out.
//
// Why not xsimd's own functions everywhere (measured against long double, xsimd 8.1):
//   - xsimd::expm1, log1p are within 2 ulp in float and double, and saturate cleanly: used as is.
//   - xsimd::exp (and tanh, which calls it) is as accurate, but its double version is slow without AVX512DQ
//     (see exp_nonpositive); tanh is rebuilt on exp_nonpositive (simd_activations.hpp).
//   - xsimd::erf/erfc in double are off by up to ~70 ulp near |t| = 2.2 and ~24 ulp near 0, and erfc loses
//     relative accuracy entirely past 2.2 (3e4 ulp at 3, 5e7 ulp at 26): normal_cdf_pdf below uses its own
//     rational erfcx instead.
//
// B is an xsimd::batch<T, Arch>, so every function here is a template over the architecture and, in the
// unnamed namespace, private to its translation unit (see scalar_math.hpp).
#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::detail {
namespace {

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

// x * y + z rounded once, guaranteed. xsimd 8.1 has no avx512f fma: its generic fallback is x * y + z, which
// GCC contracts into an FMA only when it sees fit (next to a plain x * x it was seen to reuse the rounded
// product instead, in float). So AVX-512 calls the intrinsic. (SSE2 has no FMA: there this is x * y + z.)
template <class B>
B fma_exact(const B& x, const B& y, const B& z) {
  using T = typename B::value_type;
  if constexpr (std::is_same_v<typename B::arch_type, xsimd::avx512f>) {
    if constexpr (std::is_same_v<T, double>) return B(_mm512_fmadd_pd(x, y, z));
    else return B(_mm512_fmadd_ps(x, y, z));
  } else {
    return xsimd::fma(x, y, z);
  }
}

// exp(y) for y <= 0 (or NaN), the only exponentials the activations here take: results in [0, 1], so no
// overflow path. Written out instead of xsimd::exp because xsimd 8.1's double version converts k = round(y/ln2)
// to a 64-bit integer, which without AVX512DQ (we compile -mavx512f only) is done lane by lane with scalar
// vcvttsd2si: 8 scalar conversions per batch made exp the slowest part of every double activation. Here k
// never leaves floating point: adding the shifter 1.5 * 2^52 rounds y/ln2 to an integer held in the low
// mantissa bits, and shifting those bits into the exponent field builds 2^k with integer SIMD ops.
//   y = k ln2 + r, |r| <= ln2/2 (Cody-Waite with a two-part ln2), exp(r) by a minimax polynomial (degree 11
//   in double, error 3e-18; degree 6 in float, 2e-9; scripts/fit_activation_math.py), times 2^k.
// Measured against long double over [-708, 0]: within 1.0 ulp (1.06 with AVX2's Estrin form of the
// polynomial, exp_reduced; 4 million random points, half of them in [-1, 0]). Results below the smallest
// normal are flushed to 0 (y < -708.39 in double, -87.3 in float), as xsimd::exp does; -inf gives 0 and NaN
// stays NaN.
template <class T>
struct ExpNonpositive;
template <>
struct ExpNonpositive<double> {
  static constexpr double kShifter = 0x1.8p52, kLimit = -708.3964185322641;  // ln(smallest normal)
  // fdlibm's split of ln2: kLn2Hi has 32 significant bits, so k kLn2Hi is exact even without an FMA (SSE2).
  static constexpr double kInvLn2 = 0x1.71547652b82fep0, kLn2Hi = 0x1.62e42feep-1, kLn2Lo = 0x1.a39ef35793c76p-33;
  static constexpr int kMantissaBits = 52, kBias = 1023;
  static constexpr double c[] = {1.0,
                                 1.0,
                                 0.5000000000000018570284,
                                 0.1666666666666668094774,
                                 0.04166666666648666122336,
                                 0.008333333333319490317674,
                                 0.001388888895269651565688,
                                 0.000198412698903406652987,
                                 0.0000248014850741051167049,
                                 0.000002755724060466389582264,
                                 2.763279054211718099789e-7,
                                 2.511015364692893138369e-8};
};
template <>
struct ExpNonpositive<float> {
  static constexpr float kShifter = 0x1.8p23f, kLimit = -87.33654475f;
  static constexpr float kInvLn2 = 0x1.715476p0f, kLn2Hi = 0x1.62e4p-1f, kLn2Lo = 0x1.7f7d1cp-20f;  // 16 bits
  static constexpr int kMantissaBits = 23, kBias = 127;
  static constexpr float c[] = {1.0f,          1.00000003794f, 0.50000000474f, 0.166664145072f,
                                0.0416663516384f, 0.00837521020087f, 0.00139412131f};
};

// c[0] + c[1] x + ... + c[N-1] x^{N-1} by Horner's rule with FMAs.
template <class B, class T, std::size_t N>
B horner(const B& x, const T (&c)[N]) {
  B r(c[N - 1]);
  for (std::size_t i = N - 1; i-- > 0;) r = xsimd::fma(r, x, B(c[i]));
  return r;
}

// c[First] + c[First+1] x + ... + c[N-1] x^{N-1-First} by Estrin's scheme: pairs c[2i] + c[2i+1] x, then
// pairs of those with x², then with x⁴, ...: a dependency chain of about log2(N) + 1 FMAs instead of N - 1,
// for a few more multiplications, and a little more rounding (the last sum adds two rounded parts).
template <std::size_t N, class B>
B estrin_combine(const B (&t)[N], const B& x_power) {
  if constexpr (N == 1) {
    return t[0];
  } else {
    B u[(N + 1) / 2];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < N / 2; ++i) u[i] = xsimd::fma(t[2 * i + 1], x_power, t[2 * i]);
    if constexpr (N % 2 == 1) u[N / 2] = t[N - 1];
    if constexpr (N == 2) return u[0];
    else return estrin_combine(u, x_power * x_power);
  }
}
template <std::size_t First = 0, class B, class T, std::size_t N>
B estrin(const B& x, const T (&c)[N]) {
  constexpr std::size_t M = N - First;
  B t[(M + 1) / 2];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < M / 2; ++i) t[i] = xsimd::fma(B(c[First + 2 * i + 1]), x, B(c[First + 2 * i]));
  if constexpr (M % 2 == 1) t[M / 2] = B(c[N - 1]);
  return estrin_combine(t, x * x);
}

// Estrin instead of Horner in double on AVX2 and SSE2: a double Horner chain of 10-11 FMAs at latency 5 left
// a Zen 2's FMA pipes waiting even with two batches interleaved (map_span). Measured there, per 4096 doubles:
// gelu_erf forward 13.3 -> 11.9 us, forward with derivative 15.4 -> 12.9, tanh forward with derivative
// 10.6 -> 9.2 (8.5-9.2 over runs); one X6 iteration (BM_P4Step, L = 1024) 5-9% faster; SSE2 (no FMA) 25-35%.
// Float's polynomials are half as long and gained nothing. AVX-512 keeps Horner: on a Zen 4, Estrin took
// gelu_erf forward from 7.8-8.2 to 8.8-9.2 us per 4096 doubles (its extra multiplications cost more there
// than the shorter chains save).
template <class B>
constexpr bool kEstrin = std::is_same_v<typename B::value_type, double> &&
                         !std::is_same_v<typename B::arch_type, xsimd::avx512f>;

// exp(r) for |r| <= ln2/2 from ExpNonpositive's polynomial. With Estrin, as 1 + (r + r² (c2 + c3 r + ...)):
// the parts rounded last are small against 1, so the result stays within 1 ulp (Estrin over all of c, whose
// last step adds 1 + r to the rest, reached 2.1 ulp).
template <class B>
B exp_reduced(const B& r) {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  if constexpr (kEstrin<B>) {
    static_assert(E::c[0] == 1 && E::c[1] == 1);
    return B(T(1)) + xsimd::fma(r * r, estrin<2>(r, E::c), r);
  } else {
    return horner(r, E::c);
  }
}

// exp(y + y_lo) for a y given as an unevaluated sum (|y_lo| tiny against y): y_lo joins the reduced argument r,
// where it is not rounded away. The select at the end looks at y alone.
template <class B>
B exp_nonpositive(const B& y, const B& y_lo) {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  using I = xsimd::as_integer_t<B>;
  using IT = typename I::value_type;
  const B kd = xsimd::fma(y, B(E::kInvLn2), B(E::kShifter));  // k + shifter, exactly (|k| < 2^22)
  const B k = kd - B(E::kShifter);
  const B r = xsimd::fma(k, B(-E::kLn2Hi), y) + xsimd::fma(k, B(-E::kLn2Lo), y_lo);
  // k in the low mantissa bits of kd: shifted into the exponent field and biased, they are 2^k (k >= -bias + 1
  // wherever y >= kLimit; below, the select discards the value).
  const I bits = (xsimd::bitwise_cast<I>(kd) << E::kMantissaBits) + I(IT(E::kBias) << E::kMantissaBits);
  const B e = exp_reduced(r) * xsimd::bitwise_cast<B>(bits);
  return xsimd::select(y < B(E::kLimit), B(T(0)), e);  // false for NaN: NaN stays NaN
}

template <class B>
B exp_nonpositive(const B& y) {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  using I = xsimd::as_integer_t<B>;
  using IT = typename I::value_type;
  const B kd = xsimd::fma(y, B(E::kInvLn2), B(E::kShifter));
  const B k = kd - B(E::kShifter);
  const B r = xsimd::fma(k, B(-E::kLn2Lo), xsimd::fma(k, B(-E::kLn2Hi), y));
  const I bits = (xsimd::bitwise_cast<I>(kd) << E::kMantissaBits) + I(IT(E::kBias) << E::kMantissaBits);
  const B e = exp_reduced(r) * xsimd::bitwise_cast<B>(bits);
  return xsimd::select(y < B(E::kLimit), B(T(0)), e);
}

// The scaled complementary error function erfcx(s) = e^{s²} erfc(s) on s in [0, kMax], as one rational
// function P(s)/Q(s) fitted for minimal relative error (scripts/fit_activation_math.py): degrees 9/10 in double
// (fit error 5e-17), 4/5 in float (5e-9). All coefficients are positive, so neither sum cancels for s >= 0.
// Past kMax, e^{-s²} is below the smallest normal and erfc(s) = e^{-s²} erfcx(s) is 0 whatever erfcx is; the
// caller clamps s to kMax so that P/Q never sees inf/inf. P is stored halved: P/Q = erfcx / 2, the factor of
// Φ(-s√2) = erfc(s)/2, at no extra rounding.
template <class T>
struct HalfErfcx;
template <>
struct HalfErfcx<double> {
  static constexpr double kMax = 27.0;
  static constexpr double p[] = {0.5 * 1.0,
                                 0.5 * 2.190264157152981,
                                 0.5 * 2.373299716481967,
                                 0.5 * 1.6338018927151006,
                                 0.5 * 0.7797498077655008,
                                 0.5 * 0.26646124133652527,
                                 0.5 * 0.06519029942993078,
                                 0.5 * 0.011048144214039027,
                                 0.5 * 0.0011858865531242254,
                                 0.5 * 6.231733022101459e-05};
  static constexpr double q[] = {1.0,
                                 3.31864332424848,
                                 5.117987706585169,
                                 4.842442052080971,
                                 3.122331490786138,
                                 1.4387929151177612,
                                 0.4820261924442948,
                                 0.11659776172761488,
                                 0.01963755305686588,
                                 0.002101929187770569,
                                 0.00011045459192874382};
};
template <>
struct HalfErfcx<float> {
  static constexpr float kMax = 9.5f;
  static constexpr float p[] = {0.5f * 1.000000004962528f, 0.5f * 1.2334877221499065f, 0.5f * 0.7264635592016879f,
                                0.5f * 0.22677419953370034f, 0.5f * 0.032285348437391295f};
  static constexpr float q[] = {1.0f, 2.361867404919685f, 2.391537070660504f, 1.3157743678533813f,
                                0.4019757323619289f, 0.05722350136693589f};
};

// P(s) or Q(s) of HalfErfcx (all terms positive: Estrin's extra rounding stays relative, ~1 ulp).
template <class B, class T, std::size_t N>
B erfcx_part(const B& s, const T (&c)[N]) {
  if constexpr (kEstrin<B>) return estrin(s, c);
  else return horner(s, c);
}

// Standard normal cdf Φ(x) and density φ(x) = e^{-x²/2}/√(2π), as gelu_erf needs both, from one exponential:
//   e = exp(-x²/2), x² split exactly as hi + lo (an FMA recovers the rounding error lo; without FMA, on SSE2,
//   lo is 0) and lo carried into exp's reduced argument, so that e keeps its relative accuracy in the tails
//   where x²/2 is large;
//   Φ(-|x|) = erfc(|x|/√2)/2 = e erfcx(|x|/√2)/2, and Φ(|x|) = 1 - Φ(-|x|).
// One formula over the whole line, no branches: the only cancellation is in 1 - Φ(-|x|) for x > 0, which costs
// nothing in absolute terms (Φ is within 1 of 1 there). Measured against long double erfc on AVX2 (4 million
// points on [-37.5, 8]): Φ within 1.6 eps absolute everywhere (1.03 with Horner sums); for x < 0 within 3.1
// ulp relative for |x| < 2 and 3.3 ulp out to x = -37 (Horner: 3.2 and 5.0), so the lower tail is accurate in
// relative terms too, down to the smallest normal. NaN in, NaN out; x = ±inf gives Φ = 1 or 0 and φ = 0.
// Tried on AVX-512 in double and dropped (a Zen 4, 2026-12-07): Φ(-|x|) = erfc(s)/2 for s <= 4 from 16
// polynomials of degree 14, one per quarter of s, each lane's coefficients picked by vpermt2pd, φ from the
// derivative in the same Horner loop (no exponential, no division; within 0.5 eps of the tolerance's scale, and
// 1.8 eps relative in the lower tail once s was carried as hi + lo). Per 4096 doubles the value alone went from
// 7.3 to 6.6 us, but value with derivative from 8.1 to 9.5-9.7 us: the 15 permutes (likely two cycles each on
// its 256-bit units) and 30 table loads per 8 doubles cost more than the exponential and division they replace.
template <class B>
void normal_cdf_pdf(const B& x, B& cdf, B& pdf) {
  using T = typename B::value_type;
  using R = HalfErfcx<T>;
  const B hi = x * x;
  const B lo = fma_exact(x, x, -hi);  // x² - hi exactly (NaN when x² overflows: then -hi/2 is below the limit)
  const B e = exp_nonpositive(B(T(-0.5)) * hi, B(T(-0.5)) * lo);
  pdf = e * B(scalar::kInvSqrt2Pi<T>);
  const B s = xsimd::min(xsimd::abs(x) * B(scalar::kInvSqrt2<T>), B(R::kMax));
  const B lower = e * (erfcx_part(s, R::p) / erfcx_part(s, R::q));  // Φ(-|x|)
  cdf = xsimd::select(x > B(T(0)), B(T(1)) - lower, lower);  // NaN: x > 0 is false, lower is NaN
}

}  // namespace
}  // namespace tapelab::kernels::detail

