// Elementwise kernels and the broadcast sums against the reference loops, on every dispatch target, on odd
// shapes with padded and dense leading dimensions and unaligned starts; plus in-place use, beta == 0 with NaN
// in the output, zero sizes through the public API, and bitwise determinism across thread counts.
//
// Tolerances: fill, copy, scale, add, sub, hadamard and the broadcast adds are one rounding per element, the
// same as the reference: exact. axpy may use one FMA where the reference rounds alpha * x first: within
// 2 eps (|alpha x| + |y|). column_sums adds each column top to bottom like the reference: exact for beta ==
// 0, within one FMA rounding otherwise. row_sums sums through a vector-lane tree: within twice the summation
// bound n eps sum |x| that covers either order.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/elementwise.hpp"
#include "kernels/reference.hpp"
#include "kernels/target.hpp"
#include "tests/kernels/dense_test_util.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::all_close;
using testing::all_equal;
using testing::eps;
using testing::for_every_target_and_layout;
using testing::Layout;
using testing::Matrix;
using testing::odd_layouts;
using testing::random_matrix;
using testing::TargetScope;

template <class T>
class Elementwise : public ::testing::Test {};
TYPED_TEST_SUITE(Elementwise, testing::ScalarTypes);

TYPED_TEST(Elementwise, FillAndCopyMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(1);
  for_every_target_and_layout([&](const Layout& s) {
    Matrix<T> got = random_matrix<T>(s, rng), want = got;
    fill<T>(s.rows, s.cols, T(0.375), got.data(), got.ld);
    reference::fill<T>(s.rows, s.cols, T(0.375), want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "fill";

    const Matrix<T> x = random_matrix<T>(s, rng);
    copy<T>(s.rows, s.cols, x.data(), x.ld, got.data(), got.ld);
    reference::copy<T>(s.rows, s.cols, x.data(), x.ld, want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "copy";
  });
}

TYPED_TEST(Elementwise, AxpyAndScaleMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(2);
  const T alpha = T(-1.7);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
    Matrix<T> got = y, want = y;
    axpy<T>(s.rows, s.cols, alpha, x.data(), x.ld, got.data(), got.ld);
    reference::axpy<T>(s.rows, s.cols, alpha, x.data(), x.ld, want.data(), want.ld);
    EXPECT_TRUE(all_close(got, want, [&](index_t i, index_t j) {
      return 2 * eps<T>() * (std::fabs(alpha * x(i, j)) + std::fabs(y(i, j)));
    })) << "axpy";

    got = x, want = x;
    scale<T>(s.rows, s.cols, alpha, got.data(), got.ld);
    reference::scale<T>(s.rows, s.cols, alpha, want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "scale";
  });
}

TYPED_TEST(Elementwise, AddSubHadamardMatchReferenceExactlyOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(3);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
    Matrix<T> got = random_matrix<T>(s, rng), want = got;
    add<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, got.data(), got.ld);
    reference::add<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "add";
    sub<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, got.data(), got.ld);
    reference::sub<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "sub";
    hadamard<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, got.data(), got.ld);
    reference::hadamard<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "hadamard";
  });
}

TYPED_TEST(Elementwise, InPlaceUseMatchesOutOfPlace) {
  using T = TypeParam;
  std::mt19937_64 rng(4);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
    Matrix<T> want = x;
    reference::add<T>(s.rows, s.cols, x.data(), x.ld, y.data(), y.ld, want.data(), want.ld);
    Matrix<T> z = x;  // z = z + y
    add<T>(s.rows, s.cols, z.data(), z.ld, y.data(), y.ld, z.data(), z.ld);
    EXPECT_TRUE(all_equal(z, want)) << "add with z == x";
    z = y;  // z = x + z
    add<T>(s.rows, s.cols, x.data(), x.ld, z.data(), z.ld, z.data(), z.ld);
    EXPECT_TRUE(all_equal(z, want)) << "add with z == y";

    reference::hadamard<T>(s.rows, s.cols, x.data(), x.ld, x.data(), x.ld, want.data(), want.ld);
    z = x;  // z = z * z
    hadamard<T>(s.rows, s.cols, z.data(), z.ld, z.data(), z.ld, z.data(), z.ld);
    EXPECT_TRUE(all_equal(z, want)) << "hadamard with x == y == z";

    z = x;
    copy<T>(s.rows, s.cols, z.data(), z.ld, z.data(), z.ld);
    EXPECT_TRUE(all_equal(z, x)) << "copy onto itself";
  });
}

TYPED_TEST(Elementwise, BroadcastAddsMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(5);
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> row_vector = random_matrix<T>({1, s.cols, 0}, rng);
    const Matrix<T> col_vector = random_matrix<T>({1, s.rows, 0}, rng);
    Matrix<T> got = random_matrix<T>(s, rng), want = got;
    add_row_vector<T>(s.rows, s.cols, row_vector.data(), got.data(), got.ld);
    reference::add_row_vector<T>(s.rows, s.cols, row_vector.data(), want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "add_row_vector";
    add_col_vector<T>(s.rows, s.cols, col_vector.data(), got.data(), got.ld);
    reference::add_col_vector<T>(s.rows, s.cols, col_vector.data(), want.data(), want.ld);
    EXPECT_TRUE(all_equal(got, want)) << "add_col_vector";
  });
}

// A vector (1 x n, dense) holding the broadcast-sum output, prefilled with `prefill`.
template <class T>
Matrix<T> output_vector(index_t n, T prefill) {
  Matrix<T> v(1, n, 0, 1);
  v.fill(prefill);
  return v;
}

TYPED_TEST(Elementwise, ColumnSumsMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(6);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng);
    // beta == 0 must not read the NaN already there, and adds in the reference's order: exact.
    Matrix<T> got = output_vector<T>(s.cols, nan), want = output_vector<T>(s.cols, nan);
    column_sums<T>(s.rows, s.cols, x.data(), x.ld, T(0), got.data());
    reference::column_sums<T>(s.rows, s.cols, x.data(), x.ld, T(0), want.data());
    EXPECT_TRUE(all_equal(got, want)) << "beta = 0";

    const Matrix<T> old = random_matrix<T>({1, s.cols, 0}, rng);
    got = old, want = old;
    const T beta = T(0.3);
    column_sums<T>(s.rows, s.cols, x.data(), x.ld, beta, got.data());
    reference::column_sums<T>(s.rows, s.cols, x.data(), x.ld, beta, want.data());
    EXPECT_TRUE(all_close(got, want, [&](index_t, index_t j) {
      return 2 * eps<T>() * (std::fabs(beta * old(0, j)) + std::fabs(want(0, j)));
    })) << "beta = 0.3";
  });
}

TYPED_TEST(Elementwise, RowSumsMatchReferenceOnOddShapes) {
  using T = TypeParam;
  std::mt19937_64 rng(7);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for_every_target_and_layout([&](const Layout& s) {
    const Matrix<T> x = random_matrix<T>(s, rng);
    const Matrix<T> old = random_matrix<T>({1, s.rows, 0}, rng);
    const auto tol = [&](T beta) {
      return [&x, &old, beta, n = s.cols](index_t, index_t i) {
        double abs_sum = 0;
        for (index_t j = 0; j < n; ++j) abs_sum += std::fabs(x(i, j));
        return 2.0 * double(n) * eps<T>() * abs_sum + 2 * eps<T>() * std::fabs(beta * old(0, i));
      };
    };
    Matrix<T> got = output_vector<T>(s.rows, nan), want = output_vector<T>(s.rows, nan);
    row_sums<T>(s.rows, s.cols, x.data(), x.ld, T(0), got.data());
    reference::row_sums<T>(s.rows, s.cols, x.data(), x.ld, T(0), want.data());
    EXPECT_TRUE(all_close(got, want, tol(T(0)))) << "beta = 0";

    got = old, want = old;
    row_sums<T>(s.rows, s.cols, x.data(), x.ld, T(-2), got.data());
    reference::row_sums<T>(s.rows, s.cols, x.data(), x.ld, T(-2), want.data());
    EXPECT_TRUE(all_close(got, want, tol(T(-2)))) << "beta = -2";
  });
}

TYPED_TEST(Elementwise, ZeroSizedCallsTouchNothingAndEmptySumsAreZero) {
  using T = TypeParam;
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    std::vector<T> buf(8, T(7)), out(8, T(7));
    const std::vector<T> untouched = buf;
    for (auto [r, c] : {std::pair<index_t, index_t>{0, 5}, {5, 0}, {0, 0}}) {
      fill<T>(r, c, T(1), buf.data(), 5);
      copy<T>(r, c, out.data(), 5, buf.data(), 5);
      axpy<T>(r, c, T(2), out.data(), 5, buf.data(), 5);
      scale<T>(r, c, T(2), buf.data(), 5);
      add<T>(r, c, out.data(), 5, out.data(), 5, buf.data(), 5);
      sub<T>(r, c, out.data(), 5, out.data(), 5, buf.data(), 5);
      hadamard<T>(r, c, out.data(), 5, out.data(), 5, buf.data(), 5);
      add_row_vector<T>(r, c, out.data(), buf.data(), 5);
      add_col_vector<T>(r, c, out.data(), buf.data(), 5);
      EXPECT_EQ(buf, untouched) << r << "x" << c;
    }
    // Summing zero rows (columns) gives zero sums: out = beta * out.
    std::vector<T> sums(5, T(3));
    column_sums<T>(0, 5, buf.data(), 5, T(0.5), sums.data());
    EXPECT_EQ(sums, std::vector<T>(5, T(1.5)));
    row_sums<T>(5, 0, buf.data(), 5, T(0), sums.data());
    EXPECT_EQ(sums, std::vector<T>(5, T(0)));
    column_sums<T>(5, 0, buf.data(), 5, T(0), sums.data());  // no columns: nothing to write
    row_sums<T>(0, 5, buf.data(), 5, T(0), sums.data());     // no rows: nothing to write
    EXPECT_EQ(sums, std::vector<T>(5, T(0)));
  }
}

// 300 x 1000 is past the OpenMP threshold; padded and dense layouts take the per-row and the flat paths.
TYPED_TEST(Elementwise, ResultsAreBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  std::mt19937_64 rng(8);
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (index_t pad : {3, 0}) {
      const Layout s{300, 1000, pad};
      const Matrix<T> x = random_matrix<T>(s, rng), y = random_matrix<T>(s, rng);
      const Matrix<T> v = random_matrix<T>({1, 1000, 0}, rng);
      EXPECT_TRUE(testing::same_bits_for_any_thread_count<T>([&] {
        Matrix<T> z = y;
        axpy<T>(s.rows, s.cols, T(0.3), x.data(), x.ld, z.data(), z.ld);
        hadamard<T>(s.rows, s.cols, x.data(), x.ld, z.data(), z.ld, z.data(), z.ld);
        add_row_vector<T>(s.rows, s.cols, v.data(), z.data(), z.ld);
        add_col_vector<T>(s.rows, s.cols, v.data(), z.data(), z.ld);
        std::vector<T> out = z.buf;
        std::vector<T> sums(1300);
        column_sums<T>(s.rows, s.cols, z.data(), z.ld, T(0), sums.data());
        row_sums<T>(s.rows, s.cols, z.data(), z.ld, T(0), sums.data() + 1000);
        out.insert(out.end(), sums.begin(), sums.end());
        return out;
      })) << s;
    }
  }
}

}  // namespace
}  // namespace tapelab::kernels
