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
#include <cstdint>
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
// polynomial, exp_reduced; 4 million random points, half of them in [-1, 0]; also 1.0 with AVX-512's table,
// exp_from_table). Results below the smallest normal are flushed to 0 (y < -708.39 in double, -87.3 in float),
// as xsimd::exp does; -inf gives 0 and NaN stays NaN.
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

// exp(y) = 2^f 2^{j/8} exp(r), k = round(8 y / ln2) = 8 f + j, |r| <= ln2/16: AVX-512 in double only, where
// one vpermpd reads 2^{j/8} from an 8-entry table held in a register (its index is kd's low three bits, as they
// stand), and exp(r) - 1 on the eighth of the range needs degree 7 instead of 11 (r times a degree-6 fit of
// (e^r - 1)/r, error 1e-16 on a term below 0.044: scripts/fit_activation_math.py). 2^{j/8} is carried as
// hi + lo (a second permute), so that its rounding does not add to the result's: 2^{j/8} e^r = hi + (lo + hi q).
// Four FMAs fewer for two permutes. AVX2 has no one-instruction lookup into 8 doubles, and there Estrin already
// shortens the chain. Measured on a Zen 4 (2026-12-07) together with HalfErfcxNear and map_span's two batches
// per step on AVX-512, against the build before in alternating runs, per 4096 doubles: gelu_erf value 7.2-8.4
// -> 6.3-7.0 us, value with derivative times dy (a recomputing layer's backward) 8.0-8.5 -> 7.2-7.5; tanh value
// 5.2-6.6 -> 4.8-5.7, with derivative times dy 6.1-6.3 -> 5.6-5.7. One X6 iteration (BM_P4Step, L = 1024)
// 35.3-38.9 -> 33.5-36.2 ms on one thread; on two, 18.0-19.8 -> 16.9-21.6 (this machine's two-thread times
// swing too much to say more than "not slower").
template <class B>
constexpr bool kDoubleOnAvx512 =
    std::is_same_v<typename B::value_type, double> && std::is_same_v<typename B::arch_type, xsimd::avx512f>;
template <class B>
constexpr bool kExpTable = kDoubleOnAvx512<B>;

struct ExpTable {
  static constexpr double kInv = 0x1.71547652b82fep3;  // 8 / ln2
  static constexpr double kLn2Hi = ExpNonpositive<double>::kLn2Hi / 8, kLn2Lo = ExpNonpositive<double>::kLn2Lo / 8;
  // (e^r - 1)/r
  static constexpr double g[] = {1.0,
                                 0.500000000000018,
                                 0.16666666666666868,
                                 0.041666666589919826,
                                 0.00833333332480596,
                                 0.0013889705110294549,
                                 0.00019842176749636047};
};

// 2^f 2^{j/8} exp(r) for k = 8 f + j held as kd = k + 1.5 * 2^52 (see exp_nonpositive below).
template <class B>
B exp_from_table(const B& kd, const B& r) {
  using I = xsimd::as_integer_t<B>;
  // 2^{j/8} = hi + lo, j = 0..7
  const __m512d hi = _mm512_setr_pd(0x1.0000000000000p+0, 0x1.172b83c7d517bp+0, 0x1.306fe0a31b715p+0,
                                    0x1.4bfdad5362a27p+0, 0x1.6a09e667f3bcdp+0, 0x1.8ace5422aa0dbp+0,
                                    0x1.ae89f995ad3adp+0, 0x1.d5818dcfba487p+0);
  const __m512d lo = _mm512_setr_pd(0.0, -0x1.19041b9d78a76p-55, 0x1.6f46ad23182e4p-55, 0x1.d4397afec42e2p-56,
                                    -0x1.bdd3413b26456p-54, 0x1.6e9f156864b27p-54, 0x1.7a1cd345dcc81p-54,
                                    0x1.2ed02d75b3707p-55);
  const I kbits = xsimd::bitwise_cast<I>(kd);
  // kd's low 52 bits are 2^51 + k: bits 0-2 are j (vpermpd reads only those), and shifted right by 3 they are
  // 2^48 + f, whose 2^48 the shift into the exponent field drops.
  const B t_hi(_mm512_permutexvar_pd(__m512i(kbits), hi)), t_lo(_mm512_permutexvar_pd(__m512i(kbits), lo));
  const I scale = ((kbits >> 3) << 52) + I(std::int64_t(1023) << 52);
  const B q = r * horner(r, ExpTable::g);  // e^r - 1
  return (xsimd::fma(t_hi, q, t_lo) + t_hi) * xsimd::bitwise_cast<B>(scale);
}

// The reduction y = k ln2 / 2^s + r: s = 3 with the table (exp_from_table), else s = 0.
template <class B>
struct ExpSplit {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  static constexpr T kInv = kExpTable<B> ? T(ExpTable::kInv) : E::kInvLn2;
  static constexpr T kLn2Hi = kExpTable<B> ? T(ExpTable::kLn2Hi) : E::kLn2Hi;
  static constexpr T kLn2Lo = kExpTable<B> ? T(ExpTable::kLn2Lo) : E::kLn2Lo;
};

// exp(y) from kd = k + shifter and the reduced argument r of ExpSplit.
template <class B>
B exp_of_split(const B& kd, const B& r) {
  if constexpr (kExpTable<B>) {
    return exp_from_table(kd, r);
  } else {
    using E = ExpNonpositive<typename B::value_type>;
    using I = xsimd::as_integer_t<B>;
    using IT = typename I::value_type;
    // k in the low mantissa bits of kd: shifted into the exponent field and biased, they are 2^k (k >= -bias + 1
    // wherever y >= kLimit; below, the caller's select discards the value).
    const I bits = (xsimd::bitwise_cast<I>(kd) << E::kMantissaBits) + I(IT(E::kBias) << E::kMantissaBits);
    return exp_reduced(r) * xsimd::bitwise_cast<B>(bits);
  }
}

// exp(y + y_lo) for a y given as an unevaluated sum (|y_lo| tiny against y): y_lo joins the reduced argument r,
// where it is not rounded away. The select at the end looks at y alone.
template <class B>
B exp_nonpositive(const B& y, const B& y_lo) {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  using S = ExpSplit<B>;
  const B kd = xsimd::fma(y, B(S::kInv), B(E::kShifter));  // k + shifter, exactly (|k| < 2^22)
  const B k = kd - B(E::kShifter);
  const B r = xsimd::fma(k, B(-S::kLn2Hi), y) + xsimd::fma(k, B(-S::kLn2Lo), y_lo);
  return xsimd::select(y < B(E::kLimit), B(T(0)), exp_of_split(kd, r));  // false for NaN: NaN stays NaN
}

template <class B>
B exp_nonpositive(const B& y) {
  using T = typename B::value_type;
  using E = ExpNonpositive<T>;
  using S = ExpSplit<B>;
  const B kd = xsimd::fma(y, B(S::kInv), B(E::kShifter));
  const B k = kd - B(E::kShifter);
  const B r = xsimd::fma(k, B(-S::kLn2Lo), xsimd::fma(k, B(-S::kLn2Hi), y));
  return xsimd::select(y < B(E::kLimit), B(T(0)), exp_of_split(kd, r));
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

// The same on the near range s in [0, 3.5] (|x| <= 4.95), where nearly every pre-activation lies: degrees 7/8
// (fit error 2.6e-17, below the full range's), four fewer FMAs than 9/10. normal_cdf_pdf uses it wherever
// s <= kMax and the full-range fit elsewhere, lane by lane, so a value never depends on its neighbours in the
// batch; the full-range fit is evaluated only for a batch with a lane past kMax (rare for pre-activations of
// unit scale: |x| > 4.95 has probability 7e-7). Double on AVX-512 only: float's 4/5 is short already, and with
// AVX2 (forced on a Zen 4) it gained nothing measurable, gelu_erf 8.6-8.9 against 8.6-9.6 us per 4096 (there
// Estrin's short chains, not the count of FMAs, set the pace). Measured with exp_from_table (see there).
template <class B>
constexpr bool kNearErfcx = kDoubleOnAvx512<B>;
struct HalfErfcxNear {
  static constexpr double kMax = 3.5;
  static constexpr double p[] = {0.5 * 1.0,
                                 0.5 * 1.6410122166214052,
                                 0.5 * 1.350037928376653,
                                 0.5 * 0.6843715771725899,
                                 0.5 * 0.22745576530186792,
                                 0.5 * 0.0492395935191792,
                                 0.5 * 0.006430827629185997,
                                 0.5 * 0.0003932421820583903};
  static constexpr double q[] = {1.0,
                                 2.7693913837169104,
                                 3.4749614712969854,
                                 2.5883071021836024,
                                 1.2563684681701468,
                                 0.4088473363980314,
                                 0.08762392874618034,
                                 0.011398319017280502,
                                 0.000697004260524641};
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
// relative terms too, down to the smallest normal. On AVX-512 (table exponential, near-range rational; 4 million
// random points, a third on [-37.5, 8], the rest on [-6, 6]): Φ within 1.05 eps absolute, lower tail within
// 4.8 eps relative, as before them. NaN in, NaN out; x = ±inf gives Φ = 1 or 0 and φ = 0.
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
  const B s = xsimd::abs(x) * B(scalar::kInvSqrt2<T>);
  const auto full_range = [&] {
    const B clamped = xsimd::min(s, B(R::kMax));
    return erfcx_part(clamped, R::p) / erfcx_part(clamped, R::q);
  };
  B half_erfcx;
  if constexpr (kNearErfcx<B>) {
    using N = HalfErfcxNear;
    const auto near = s <= B(N::kMax);  // false for NaN
    half_erfcx = erfcx_part(s, N::p) / erfcx_part(s, N::q);
    if (!xsimd::all(near)) half_erfcx = xsimd::select(near, half_erfcx, full_range());  // rare: past it, or NaN
  } else {
    half_erfcx = full_range();
  }
  const B lower = e * half_erfcx;  // Φ(-|x|)
  cdf = xsimd::select(x > B(T(0)), B(T(1)) - lower, lower);  // NaN: x > 0 is false, lower is NaN
}

}  // namespace
}  // namespace tapelab::kernels::detail

