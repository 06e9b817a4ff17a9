// Full reductions (sum, dot, squared_norm, max_abs) against the reference loops on every dispatch target, odd
// shapes, padded and dense layouts, float and double; NaN handling of max_abs; zero sizes through the public
// API; and bitwise determinism across thread counts on shapes large enough to run in parallel.
//
// Tolerance: the kernels and the reference add the same n terms in different orders. Each order is within
// (n - 1) eps sum |term| of the exact sum, so the two are within 2 n eps sum |term| of each other.
// max_abs involves no rounding: exact.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/reductions.hpp"
#include "kernels/reference.hpp"
#include "kernels/target.hpp"
#include "tests/kernels/dense_test_util.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::eps;
using testing::for_every_target_and_layout;
using testing::Layout;
using testing::Matrix;
using testing::odd_layouts;
using testing::random_matrix;
using testing::TargetScope;

template <class T>
class Reductions : public ::testing::Test {};
TYPED_TEST_SUITE(Reductions, testing::ScalarTypes);

// 2 n eps sum |x_ij y_ij| (y = nullptr: sum |x_ij|, squares: sum x_ij²).
template <class T>
double order_tolerance(const Matrix<T>& x, const std::type_identity_t<Matrix<T>>* y, bool squares = false) {
  double abs_sum = 0;
  for (index_t i = 0; i < x.rows; ++i)
    for (index_t j = 0; j < x.cols; ++j) {
      const double xv = x(i, j);
      abs_sum += std::fabs(squares ? xv * xv : y != nullptr ? xv * (*y)(i, j) : xv);
    }
  return 2.0 * double(x.rows * x.cols) * eps<T>() * abs_sum;
}

TYPED_TEST(Reductions, SumDotAndSquaredNormMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(21);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
    EXPECT_NEAR(sum<T>(s.rows, s.cols, x.data(), x.ld), reference::sum<T>(s.rows, s.cols, x.data(), x.ld),
                order_tolerance(x, nullptr))
        << "sum";
    EXPECT_NEAR(dot<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld),
                reference::dot<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld), order_tolerance(x, &y))
        << "dot";
    EXPECT_NEAR(squared_norm<T>(s.rows, s.cols, x.data(), x.ld),
                reference::squared_norm<T>(s.rows, s.cols, x.data(), x.ld), order_tolerance(x, nullptr, true))
        << "squared_norm";
    EXPECT_TRUE(x.padding_intact() && y.padding_intact());
  });
}

TYPED_TEST(Reductions, MaxAbsMatchesReferenceExactlyOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(22);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng, T(-3), T(2));
    EXPECT_EQ(max_abs<T>(s.rows, s.cols, x.data(), x.ld),
              reference::max_abs<T>(s.rows, s.cols, x.data(), x.ld));
  });
}

// A NaN anywhere (first element, inside a full batch, in the tail, last element) makes max_abs NaN, even next
// to an infinity; without NaN an infinity is the answer.
TYPED_TEST(Reductions, MaxAbsIsNaNWhenAnyEntryIsNaN) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  std::mt19937_64 rng(23);
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (const Layout& s : {Layout{1, 1, 0}, Layout{3, 37, 3}, Layout{64, 257, 0}, Layout{300, 1000, 3}}) {
      SCOPED_TRACE(::testing::Message() << "shape " << s);
      Matrix<T> x = random_matrix<T>(s, rng);
      x(s.rows / 2, s.cols / 3) = -inf;
      EXPECT_EQ(max_abs<T>(s.rows, s.cols, x.data(), x.ld), inf);
      for (auto [i, j] : std::vector<std::pair<index_t, index_t>>{
               {0, 0}, {s.rows / 2, s.cols / 2}, {s.rows - 1, s.cols - 1}, {0, s.cols - 1}}) {
        Matrix<T> with_nan = x;
        with_nan(i, j) = nan;
        EXPECT_TRUE(std::isnan(max_abs<T>(s.rows, s.cols, with_nan.data(), with_nan.ld)))
            << "NaN at (" << i << ", " << j << ")";
      }
    }
  }
}

TYPED_TEST(Reductions, ZeroSizedReductionsAreZero) {
  using T = TypeParam;
  const std::vector<T> x(4, std::numeric_limits<T>::quiet_NaN());  // never read
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (auto [r, c] : std::vector<std::pair<index_t, index_t>>{{0, 4}, {4, 0}, {0, 0}}) {
      EXPECT_EQ(sum<T>(r, c, x.data(), 4), T(0));
      EXPECT_EQ(dot<T>(r, c, x.data(), 4, x.data(), 4), T(0));
      EXPECT_EQ(squared_norm<T>(r, c, x.data(), 4), T(0));
      EXPECT_EQ(max_abs<T>(r, c, x.data(), 4), T(0));
    }
  }
}

// Past the OpenMP threshold: padded 300 x 1000 (chunks of whole rows), dense 300 x 1000 and a dense single
// row of 300000 (flat chunks). Values of mixed magnitude so that a different summation order would show in
// the bits.
TYPED_TEST(Reductions, ResultsAreBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  std::mt19937_64 rng(24);
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (const Layout& s : {Layout{300, 1000, 3}, Layout{300, 1000, 0}, Layout{1, 300000, 0}}) {
      Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
      for (index_t i = 0; i < s.rows; ++i)
        for (index_t j = 0; j < s.cols; j += 7) x(i, j) *= T(1000);
      EXPECT_TRUE(testing::same_bits_for_any_thread_count<T>([&] {
        return std::vector<T>{
            sum<T>(s.rows, s.cols, x.data(), x.ld), dot<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld),
            squared_norm<T>(s.rows, s.cols, x.data(), x.ld), max_abs<T>(s.rows, s.cols, x.data(), x.ld)};
      })) << s;
      // And still the right answer on the parallel path.
      EXPECT_NEAR(sum<T>(s.rows, s.cols, x.data(), x.ld), reference::sum<T>(s.rows, s.cols, x.data(), x.ld),
                  order_tolerance(x, nullptr))
          << s;
    }
  }
}

}  // namespace
}  // namespace tapelab::kernels
