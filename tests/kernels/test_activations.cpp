// Activation kernels against the reference loops (scalar_math.hpp formulas) on every dispatch target, odd
// shapes, padded and dense layouts, float and double; then the properties the reference does not pin down:
// saturation for large |x|, NaN propagation, relu'(0) = 0, beta == 0 never reading dx, tail elements computed
// exactly like the vector body, values that do not depend on their neighbours in a batch, bitwise determinism
// across thread counts, and accuracy against a long double oracle.
//
// Tolerance, per element: |got - want| <= kUlps eps (|want| + scale(x)) + (smallest normal).
//   scale(x) is the size of the terms the formula cancels, so the error of the reference itself is covered:
//   0 for tanh, sigmoid and softplus values (relative accuracy), 1 for tanh' = 1 - tanh², sigmoid' = s(1 - s)
//   and gelu_erf' (the reference cancels near 1), |x| for both gelu values (x/2 (1 + tanh u) cancels for x <
//   0), 1 + |x| u' for gelu_tanh' (its 1 - tanh² u term is multiplied by x u'). identity and relu are exact.
//   The smallest-normal floor covers xsimd::exp flushing results below it to zero.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/activations.hpp"
#include "kernels/reference.hpp"
#include "kernels/scalar_math.hpp"
#include "kernels/target.hpp"
#include "tests/kernels/dense_test_util.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::all_close;
using testing::eps;
using testing::Layout;
using testing::Matrix;
using testing::odd_layouts;
using testing::random_matrix;
using testing::TargetScope;

constexpr double kUlps = 4;

bool exact(Activation a) { return a == Activation::identity || a == Activation::relu; }

// scale(x) of the header comment, for the value (derivative = false) or the derivative.
double cancel_scale(Activation a, bool derivative, double x) {
  const double ax = std::fabs(x);
  switch (a) {
    case Activation::identity:
    case Activation::relu:
    case Activation::softplus:
      return 0;
    case Activation::tanh:
    case Activation::sigmoid:
      return derivative ? 1 : 0;
    case Activation::gelu_erf:
      return derivative ? 1 : ax;
    case Activation::gelu_tanh: {
      const double du = 0.7978845608028654 * (1 + 3 * 0.044715 * x * x);
      return derivative ? 1 + ax * du : ax;
    }
  }
  return 0;
}

template <class T>
double activation_tol(Activation a, bool derivative, double x, double want) {
  if (exact(a)) return 0;
  return kUlps * eps<T>() * (std::fabs(want) + cancel_scale(a, derivative, x)) +
         std::numeric_limits<T>::min();
}

template <class T>
class Activations : public ::testing::Test {};
TYPED_TEST_SUITE(Activations, testing::ScalarTypes);

// Runs check(a, layout) for every target, activation and odd layout, with all three in failure messages.
template <class Check>
void for_every_case(const Check& check) {
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (Activation a : kAllActivations) {
      SCOPED_TRACE(::testing::Message() << "activation " << activation_name(a));
      for (const Layout& s : odd_layouts()) {
        SCOPED_TRACE(::testing::Message() << "shape " << s);
        check(a, s);
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

// Inputs spread over [-8, 8]: both saturated ends of tanh and sigmoid, and the gelu tails.
template <class T>
Matrix<T> inputs(const Layout& s, std::mt19937_64& rng) {
  return random_matrix<T>(s, rng, -8, 8);
}

TYPED_TEST(Activations, ForwardMatchesReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(11);
  for_every_case([&](Activation a, const Layout& s) {
    const Matrix<T> x = inputs<T>(s, rng);
    Matrix<T> got = testing::make_matrix<T>(s), want = got;
    activation_forward<T>(a, s.rows, s.cols, x.data(), x.ld, got.data(), got.ld);
    reference::activation_forward<T>(a, s.rows, s.cols, x.data(), x.ld, want.data(), want.ld);
    EXPECT_TRUE(all_close(
        got, want, [&](index_t i, index_t j) { return activation_tol<T>(a, false, x(i, j), want(i, j)); }));
  });
}

TYPED_TEST(Activations, DerivativeMatchesReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(12);
  for_every_case([&](Activation a, const Layout& s) {
    const Matrix<T> x = inputs<T>(s, rng);
    Matrix<T> got = testing::make_matrix<T>(s), want = got;
    activation_derivative<T>(a, s.rows, s.cols, x.data(), x.ld, got.data(), got.ld);
    reference::activation_derivative<T>(a, s.rows, s.cols, x.data(), x.ld, want.data(), want.ld);
    EXPECT_TRUE(all_close(
        got, want, [&](index_t i, index_t j) { return activation_tol<T>(a, true, x(i, j), want(i, j)); }));
  });
}

// The same bits in every element (a NaN only has to be a NaN: which operand's NaN a commutative operation
// passes on is up to the compiler's operand order).
template <class T>
bool same_bits(const Matrix<T>& got, const Matrix<T>& want) {
  for (index_t i = 0; i < want.rows; ++i)
    for (index_t j = 0; j < want.cols; ++j) {
      const T g = got(i, j), w = want(i, j);
      if (std::isnan(g) ? !std::isnan(w) : std::memcmp(&g, &w, sizeof(T)) != 0) return false;
    }
  return true;
}

// The fused forward gives the bits of the two separate kernels (so a layer may keep act'(Z) from it and any
// later activation_derivative of the same Z agrees), also in place (y == x, as in the GEMM epilogue) and on
// inputs that include NaN, ±inf and huge values.
TYPED_TEST(Activations, ForwardWithDerivativeGivesTheBitsOfForwardAndDerivative) {
  using T = TypeParam;
  std::mt19937_64 rng(17);
  const T special[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                       -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::max(), T(-1e30), T(0), T(-0.0)};
  for_every_case([&](Activation a, const Layout& s) {
    Matrix<T> x = inputs<T>(s, rng);
    for (index_t k = 0; k < 7 && k < s.rows * s.cols; ++k) x(k % s.rows, (k * 5) % s.cols) = special[k];
    Matrix<T> y = testing::make_matrix<T>(s), d = y, want_y = y, want_d = y;
    activation_forward_with_derivative<T>(a, s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, d.data(), d.ld);
    activation_forward<T>(a, s.rows, s.cols, x.data(), x.ld, want_y.data(), want_y.ld);
    activation_derivative<T>(a, s.rows, s.cols, x.data(), x.ld, want_d.data(), want_d.ld);
    EXPECT_TRUE(same_bits(y, want_y)) << "values";
    EXPECT_TRUE(same_bits(d, want_d)) << "derivatives";
    Matrix<T> in_place = x;
    activation_forward_with_derivative<T>(a, s.rows, s.cols, in_place.data(), in_place.ld, in_place.data(),
                                          in_place.ld, d.data(), d.ld);
    EXPECT_TRUE(same_bits(in_place, want_y)) << "values, in place";
    EXPECT_TRUE(same_bits(d, want_d)) << "derivatives, in place";
  });
}

// The fused forward-and-backward against the reference loop, then bit for bit against activation_forward and
// activation_backward with beta = 0 (residual_step's recompute mode relies on it: the same numbers as keeping
// act'(Z)), also in place (y == x, dx == dy) and with NaN, ±inf and huge values among the inputs.
TYPED_TEST(Activations, ForwardBackwardMatchesReferenceAndGivesTheBitsOfForwardAndBackward) {
  using T = TypeParam;
  std::mt19937_64 rng(19);
  const T special[] = {std::numeric_limits<T>::quiet_NaN(),
                       std::numeric_limits<T>::infinity(),
                       -std::numeric_limits<T>::infinity(),
                       std::numeric_limits<T>::max(),
                       T(-1e30),
                       T(0),
                       T(-0.0)};
  for_every_case([&](Activation a, const Layout& s) {
    Matrix<T> x = inputs<T>(s, rng);
    const Matrix<T> dy = random_matrix<T>(s, rng);
    Matrix<T> y = testing::make_matrix<T>(s), dx = y, ref_y = y, ref_dx = y;
    y.fill(std::numeric_limits<T>::quiet_NaN());  // outputs only: any read of them shows
    dx.fill(std::numeric_limits<T>::quiet_NaN());
    activation_forward_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, y.data(), y.ld,
                                   dx.data(), dx.ld);
    reference::activation_forward_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld,
                                              ref_y.data(), ref_y.ld, ref_dx.data(), ref_dx.ld);
    EXPECT_TRUE(all_close(y, ref_y, [&](index_t i, index_t j) {
      return activation_tol<T>(a, false, x(i, j), ref_y(i, j));
    })) << "values against the reference";
    EXPECT_TRUE(all_close(dx, ref_dx, [&](index_t i, index_t j) {
      return std::fabs(dy(i, j)) * activation_tol<T>(a, true, x(i, j), scalar::derivative<T>(a, x(i, j))) +
             2 * eps<T>() * std::fabs(ref_dx(i, j));
    })) << "gradients against the reference";

    for (index_t k = 0; k < 7 && k < s.rows * s.cols; ++k) x(k % s.rows, (k * 5) % s.cols) = special[k];
    Matrix<T> want_y = y, want_dx = y;
    activation_forward_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, y.data(), y.ld,
                                   dx.data(), dx.ld);
    activation_forward<T>(a, s.rows, s.cols, x.data(), x.ld, want_y.data(), want_y.ld);
    activation_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, T(0), want_dx.data(),
                           want_dx.ld);
    EXPECT_TRUE(same_bits(y, want_y)) << "values";
    EXPECT_TRUE(same_bits(dx, want_dx)) << "gradients";
    Matrix<T> in_place_x = x, in_place_dy = dy;
    activation_forward_backward<T>(a, s.rows, s.cols, in_place_x.data(), in_place_x.ld, in_place_dy.data(),
                                   in_place_dy.ld, in_place_x.data(), in_place_x.ld, in_place_dy.data(),
                                   in_place_dy.ld);
    EXPECT_TRUE(same_bits(in_place_x, want_y)) << "values, in place";
    EXPECT_TRUE(same_bits(in_place_dy, want_dx)) << "gradients, in place";
  });
}

// beta = 0 overwrites dx, which starts as NaN so that any read of it shows; beta = 1 accumulates.
TYPED_TEST(Activations, BackwardMatchesReferenceOnOddShapesAndBetaZeroNeverReadsDx) {
  using T = TypeParam;
  std::mt19937_64 rng(13);
  for_every_case([&](Activation a, const Layout& s) {
    const Matrix<T> x = inputs<T>(s, rng), dy = random_matrix<T>(s, rng);
    const Matrix<T> old = random_matrix<T>(s, rng);
    for (T beta : {T(0), T(1)}) {
      SCOPED_TRACE(::testing::Message() << "beta " << beta);
      Matrix<T> got = testing::make_matrix<T>(s);
      if (beta == T(0)) {
        got.fill(std::numeric_limits<T>::quiet_NaN());
      } else {
        got = old;
      }
      Matrix<T> want = got;
      activation_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, beta, got.data(), got.ld);
      reference::activation_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, beta,
                                        want.data(), want.ld);
      EXPECT_TRUE(all_close(got, want, [&](index_t i, index_t j) {
        const double d = scalar::derivative<T>(a, x(i, j));
        const double accumulated = beta == T(0) ? 0.0 : std::fabs(old(i, j));
        return std::fabs(dy(i, j)) * activation_tol<T>(a, true, x(i, j), d) +
               2 * eps<T>() * (accumulated + std::fabs(want(i, j)));
      }));
    }
  });
}

// Expected σ and σ' at saturating and special inputs, from the closed forms.
struct Expected {
  Activation a;
  double x, value, slope;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<Expected>& saturation_table() {
  static const std::vector<Expected> table = [] {
    std::vector<Expected> t;
    for (double big : {100.0, 1000.0, kInf}) {
      const double e = std::exp(-big);              // 3.7e-44, 0, 0
      const double sech2 = 4 * std::exp(-2 * big);  // tanh'(big) = 4 e^-2x / (1 + e^-2x)^2
      const double logistic_slope = e / ((1 + e) * (1 + e));
      t.push_back({Activation::identity, -big, -big, 1});
      t.push_back({Activation::relu, big, big, 1});
      t.push_back({Activation::relu, -big, 0, 0});
      t.push_back({Activation::tanh, big, 1, sech2});
      t.push_back({Activation::tanh, -big, -1, sech2});
      t.push_back({Activation::sigmoid, big, 1 / (1 + e), logistic_slope});
      t.push_back({Activation::sigmoid, -big, e / (1 + e), logistic_slope});
      t.push_back({Activation::softplus, big, big, 1 / (1 + e)});
      t.push_back({Activation::softplus, -big, std::log1p(e), e / (1 + e)});
      // gelu: Φ(-100) and the gelu_tanh logistic at z = -7e4 are far below every floating-point range.
      t.push_back({Activation::gelu_tanh, big, big, 1});
      t.push_back({Activation::gelu_tanh, -big, 0, 0});
      t.push_back({Activation::gelu_erf, big, big, 1});
      t.push_back({Activation::gelu_erf, -big, 0, 0});
    }
    return t;
  }();
  return table;
}

// 1 x 19 dense, the special value in every column, so it is seen by the vector body and the padded tail.
template <class T>
std::vector<T> apply(Activation a, bool derivative, T x) {
  std::vector<T> in(19, x), out(19, T(-7));
  if (derivative) {
    activation_derivative<T>(a, 1, 19, in.data(), 19, out.data(), 19);
  } else {
    activation_forward<T>(a, 1, 19, in.data(), 19, out.data(), 19);
  }
  return out;
}

TYPED_TEST(Activations, LargeInputsSaturateWithoutNaNOrOverflow) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (const Expected& e : saturation_table()) {
      SCOPED_TRACE(::testing::Message() << activation_name(e.a) << " at x = " << e.x);
      const T x = T(e.x);
      for (bool derivative : {false, true}) {
        const double want = derivative ? e.slope : e.value;
        const double tol = 4 * eps<T>() * std::fabs(want) + std::numeric_limits<T>::min();
        for (T got : apply<T>(e.a, derivative, x)) {
          // Exact up to a few ulp; float has no room for e^-100, which xsimd::exp flushes to 0.
          EXPECT_TRUE(got == T(want) || std::fabs(got - want) <= tol)
              << (derivative ? "derivative " : "value ") << got << ", expected " << want;
        }
      }
    }
  }
}

TYPED_TEST(Activations, FiniteInputsGiveFiniteOutputs) {
  using T = TypeParam;
  const T lim = std::numeric_limits<T>::max();
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (Activation a : kAllActivations)
      for (T x : {lim, -lim, T(1e30), T(-1e30), T(88.8), T(-88.8), T(710), T(-710), T(1e-30), T(-1e-30)})
        for (bool derivative : {false, true})
          for (T got : apply<T>(a, derivative, x))
            EXPECT_TRUE(std::isfinite(got)) << activation_name(a) << (derivative ? "'" : "") << "(" << x
                                            << ") = " << got << " on " << testing::target_label(target);
  }
}

TYPED_TEST(Activations, NaNInputGivesNaNOutput) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (Activation a : kAllActivations) {
      SCOPED_TRACE(activation_name(a));
      for (T got : apply<T>(a, false, nan)) EXPECT_TRUE(std::isnan(got)) << "value " << got;
      // identity' is the constant 1, whatever x is.
      for (T got : apply<T>(a, true, nan))
        EXPECT_TRUE(a == Activation::identity ? got == T(1) : std::isnan(got)) << "derivative " << got;
      std::vector<T> x(19, nan), dy(19, T(1)), dx(19, T(0));
      activation_backward<T>(a, 1, 19, x.data(), 19, dy.data(), 19, T(1), dx.data(), 19);
      for (T got : dx)
        EXPECT_TRUE(a == Activation::identity ? got == T(1) : std::isnan(got)) << "backward " << got;
    }
  }
}

TYPED_TEST(Activations, ReluDerivativeIsZeroAtTheKink) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (T zero : {T(0), T(-0.0)}) {
      for (T got : apply<T>(Activation::relu, true, zero)) EXPECT_EQ(got, T(0));
      for (T got : apply<T>(Activation::relu, false, zero)) EXPECT_EQ(got, T(0));
    }
    for (T got : apply<T>(Activation::relu, true, std::numeric_limits<T>::denorm_min())) EXPECT_EQ(got, T(1));
  }
}

TYPED_TEST(Activations, ZeroSizedCallsTouchNothing) {
  using T = TypeParam;
  std::vector<T> x(8, T(1)), out(8, T(7));
  for (Target target : available_targets()) {
    TargetScope scope(target);
    for (auto [r, c] : std::vector<std::pair<index_t, index_t>>{{0, 4}, {4, 0}, {0, 0}})
      for (Activation a : kAllActivations) {
        activation_forward<T>(a, r, c, x.data(), 4, out.data(), 4);
        activation_derivative<T>(a, r, c, x.data(), 4, out.data(), 4);
        activation_backward<T>(a, r, c, x.data(), 4, x.data(), 4, T(0), out.data(), 4);
        EXPECT_EQ(out, std::vector<T>(8, T(7)))
            << activation_name(a) << " " << r << "x" << c << " on " << testing::target_label(target);
      }
  }
}

// A row of one repeated value: every column, whether in a full batch (the first or the second of a pair: the
// loops run two batches per step on some targets, each an inlined copy of the formula that GCC could contract
// differently) or in the zero-padded tail, must give the same bits, from every kernel (so a layer's output
// never depends on where a unit sits in the row, nor, through the threads' chunks, on the thread count).
TYPED_TEST(Activations, TailElementsMatchVectorBodyBitForBit) {
  using T = TypeParam;
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> u(-6, 6);
  constexpr index_t n = 37;  // AVX2 doubles: 4 pairs, one single batch, a tail of 1; AVX-512 floats: 2 + 5
  auto constant = [](const std::vector<T>& v) {
    return testing::bitwise_equal(v, std::vector<T>(v.size(), v[0]));
  };
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (Activation a : kAllActivations)
      for (int trial = 0; trial < 40; ++trial) {
        const T x = T(trial < 20 ? u(rng) : 8 * u(rng)), dy = T(u(rng));
        const std::vector<T> in(n, x), grad(n, dy);
        std::vector<T> y(n), d(n), dx(n, T(0.5)), y2(n), dx2(n);
        activation_forward<T>(a, 1, n, in.data(), n, y.data(), n);
        activation_derivative<T>(a, 1, n, in.data(), n, d.data(), n);
        activation_backward<T>(a, 1, n, in.data(), n, grad.data(), n, T(1), dx.data(), n);
        activation_forward_backward<T>(a, 1, n, in.data(), n, grad.data(), n, y2.data(), n, dx2.data(), n);
        const std::string at = std::string(activation_name(a)) + " at " + std::to_string(x);
        EXPECT_TRUE(constant(y)) << "forward, " << at;
        EXPECT_TRUE(constant(d)) << "derivative, " << at;
        EXPECT_TRUE(constant(dx)) << "backward, " << at;
        EXPECT_TRUE(constant(y2) && constant(dx2)) << "forward_backward, " << at;
        activation_forward_with_derivative<T>(a, 1, n, in.data(), n, y2.data(), n, dx2.data(), n);
        EXPECT_TRUE(constant(y2) && constant(dx2)) << "forward_with_derivative, " << at;
        if (derivative_from_output(a)) {
          activation_backward_from_output<T>(a, 1, n, y.data(), n, grad.data(), n, T(0), dx.data(), n);
          EXPECT_TRUE(constant(dx)) << "backward_from_output, " << at;
        }
      }
  }
}

// Formulas that take a cheaper path when every lane of a batch is in range (tanh below 5/8; gelu_erf's
// near-range rational, double on AVX-512) must give each lane the bits the full path gives it: a value does not
// depend on its neighbours. Every fourth input is moved far out, so every batch mixes both paths.
TYPED_TEST(Activations, ValueDoesNotDependOnItsNeighbours) {
  using T = TypeParam;
  std::mt19937_64 rng(17);
  constexpr index_t n = 67;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (double range : {0.6, 4.5})
      for (Activation a : kAllActivations) {
        std::uniform_real_distribution<double> u(-range, range);
        std::vector<T> alone(n), mixed(n);
        for (index_t i = 0; i < n; ++i) {
          alone[size_t(i)] = T(u(rng));
          mixed[size_t(i)] = i % 4 == 3 ? T(i % 8 == 3 ? 30 : -30) : alone[size_t(i)];
        }
        std::vector<T> y(n), d(n), y_mixed(n), d_mixed(n);
        activation_forward_with_derivative<T>(a, 1, n, alone.data(), n, y.data(), n, d.data(), n);
        activation_forward_with_derivative<T>(a, 1, n, mixed.data(), n, y_mixed.data(), n, d_mixed.data(), n);
        std::vector<T> y_value(n), y_value_mixed(n);
        activation_forward<T>(a, 1, n, alone.data(), n, y_value.data(), n);
        activation_forward<T>(a, 1, n, mixed.data(), n, y_value_mixed.data(), n);
        for (index_t i = 0; i < n; ++i) {
          if (i % 4 == 3) continue;
          const auto k = size_t(i);
          const bool same = testing::bitwise_equal(std::vector<T>{y[k], d[k], y_value[k]},
                                                   std::vector<T>{y_mixed[k], d_mixed[k], y_value_mixed[k]});
          EXPECT_TRUE(same) << activation_name(a) << " at " << alone[k] << ": alone " << y_value[k] << ", " << y[k]
                            << ", " << d[k] << "; beside +-30 " << y_value_mixed[k] << ", " << y_mixed[k] << ", "
                            << d_mixed[k];
          if (!same) break;
        }
      }
  }
}

TYPED_TEST(Activations, ResultsAreBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  std::mt19937_64 rng(15);
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (index_t pad : {3, 0}) {
      const Layout s{300, 1000, pad};
      const Matrix<T> x = inputs<T>(s, rng), dy = random_matrix<T>(s, rng);
      for (Activation a : kAllActivations)
        EXPECT_TRUE(testing::same_bits_for_any_thread_count<T>([&] {
          Matrix<T> y = testing::make_matrix<T>(s), dx = dy;
          activation_forward<T>(a, s.rows, s.cols, x.data(), x.ld, y.data(), y.ld);
          activation_backward<T>(a, s.rows, s.cols, x.data(), x.ld, dy.data(), dy.ld, T(1), dx.data(), dx.ld);
          std::vector<T> out = y.buf;
          out.insert(out.end(), dx.buf.begin(), dx.buf.end());
          return out;
        })) << activation_name(a)
            << " " << s;
    }
  }
}

// Double against the same formulas evaluated in long double, with the same tolerance: measured worst cases
// are below 2 eps (|σ| + scale), including gelu_erf, whose xsimd::erf building block alone is off by up to
// ~70 ulp.
TEST(Activations, DoubleIsWithinFewUlpOfLongDoubleOracle) {
  std::mt19937_64 rng(16);
  const Layout s{64, 257, 3};
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (double range : {1.0, 8.0, 40.0}) {
      const Matrix<double> x = random_matrix<double>(s, rng, -range, range);
      for (Activation a : kAllActivations)
        for (bool derivative : {false, true}) {
          SCOPED_TRACE(::testing::Message() << activation_name(a) << (derivative ? "'" : "") << " on [-"
                                            << range << ", " << range << "]");
          Matrix<double> got = testing::make_matrix<double>(s), want = got;
          if (derivative) {
            activation_derivative<double>(a, s.rows, s.cols, x.data(), x.ld, got.data(), got.ld);
          } else {
            activation_forward<double>(a, s.rows, s.cols, x.data(), x.ld, got.data(), got.ld);
          }
          for (index_t i = 0; i < s.rows; ++i)
            for (index_t j = 0; j < s.cols; ++j) {
              const long double xl = x(i, j);
              want(i, j) = double(derivative ? scalar::derivative(a, xl) : scalar::activate(a, xl));
            }
          EXPECT_TRUE(all_close(got, want, [&](index_t i, index_t j) {
            return activation_tol<double>(a, derivative, x(i, j), want(i, j));
          }));
        }
    }
  }
}

// gelu_erf's Φ keeps its relative accuracy in the lower tail, where x Φ(x) is far below the absolute tolerance
// above: against long double erfc (Φ(x) = erfc(-x/√2)/2, no cancellation), on a dense grid from the point where
// Φ leaves the normal range up to 8. Measured worst: 5 eps in double, 4 eps in float. The exp(-x²/2) inside Φ
// needs x² split exactly by an FMA; SSE2 has none, so there the error grows with x² (36 eps at x = -12, float).
TYPED_TEST(Activations, GeluErfKeepsRelativeAccuracyInTheLowerTail) {
  using T = TypeParam;
  const index_t n = 20000;
  const double lo = sizeof(T) == 8 ? -37.5 : -13.0, hi = 8.0;
  std::vector<T> x(static_cast<size_t>(n)), y(x.size());
  for (index_t i = 0; i < n; ++i) x[size_t(i)] = T(lo + (hi - lo) * (double(i) + 0.5) / double(n));
  for (Target target : available_targets()) {
    TargetScope scope(target);
    activation_forward<T>(Activation::gelu_erf, 1, n, x.data(), n, y.data(), n);
    for (index_t i = 0; i < n; ++i) {
      const long double xl = x[size_t(i)];
      const long double cdf = 0.5L * std::erfc(-xl / std::sqrt(2.0L));
      if (cdf < std::numeric_limits<T>::min()) continue;  // subnormal Φ: no relative accuracy to keep
      // Without an FMA the rounding of x² (relative eps/2) moves exp(-x²/2) by up to x²/4 eps, relatively.
      const double x2 = double(xl * xl);
      const double bound = (8 + (target == Target::generic ? x2 / 4 : 0)) * double(eps<T>());
      const long double want = xl * cdf;
      EXPECT_LE(double(std::fabs((y[size_t(i)] - want) / want)), bound)
          << "gelu_erf(" << x[size_t(i)] << ") = " << y[size_t(i)] << ", expected " << double(want) << " on "
          << testing::target_label(target);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace tapelab::kernels
