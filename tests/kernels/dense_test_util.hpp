#pragma once
// Helpers for the elementwise, activation and reduction tests: the shape list, a matrix comparison whose
// failure message names the target, shape, element, values and tolerance, and a bitwise comparison for the
// thread-count determinism checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/common.hpp"
#include "kernels/target.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace tapelab::kernels::testing {

// One test case's layout: padded (ld = cols + 3, the usual column-view case) or dense (ld == cols, which the
// kernels walk as one flat run). Both start one element past an aligned address.
struct Layout {
  index_t rows, cols, pad;
};

inline std::ostream& operator<<(std::ostream& os, const Layout& s) {
  return os << s.rows << "x" << s.cols << (s.pad == 0 ? " dense" : " padded");
}

// Every rows x cols pair from kOddSizes (square, 1 x 257, 257 x 3, 33 x 17, ...), padded and dense.
inline const std::vector<Layout>& odd_layouts() {
  static const std::vector<Layout> layouts = [] {
    std::vector<Layout> out;
    for (index_t r : kOddSizes)
      for (index_t c : kOddSizes)
        for (index_t pad : {index_t(3), index_t(0)}) out.push_back({r, c, pad});
    return out;
  }();
  return layouts;
}

template <class T>
Matrix<T> make_matrix(const Layout& s) {
  return Matrix<T>(s.rows, s.cols, s.pad, 1);
}

template <class T>
Matrix<T> random_matrix(const Layout& s, std::mt19937_64& rng, T lo = T(-1), T hi = T(1)) {
  Matrix<T> m = make_matrix<T>(s);
  m.randomize(rng, lo, hi);
  return m;
}

inline bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// Every element within tol(i, j) of want (both NaN counts as equal) and the padding of got untouched. On
// failure reports the element with the largest error relative to its tolerance, and how many elements failed.
template <class T, class Tol>
::testing::AssertionResult all_close(const Matrix<T>& got, const Matrix<T>& want, const Tol& tol) {
  index_t bad = 0, wi = -1, wj = -1;
  double worst = 0;
  for (index_t i = 0; i < want.rows; ++i)
    for (index_t j = 0; j < want.cols; ++j) {
      const double g = got(i, j), w = want(i, j), t = tol(i, j);
      if (same_value(g, w)) continue;
      const double err = std::fabs(g - w);
      if (err <= t) continue;
      ++bad;
      const double ratio = std::isnan(err) || t == 0 ? std::numeric_limits<double>::infinity() : err / t;
      if (wi < 0 || ratio > worst) worst = ratio, wi = i, wj = j;
    }
  if (bad > 0) {
    std::ostringstream os;
    os.precision(std::numeric_limits<T>::max_digits10);
    os << bad << " of " << want.rows * want.cols << " elements off; worst at (" << wi << ", " << wj
       << "): got " << got(wi, wj) << ", expected " << want(wi, wj) << ", tolerance " << tol(wi, wj)
       << " (error/tolerance " << worst << ")";
    return ::testing::AssertionFailure() << os.str();
  }
  if (!got.padding_intact())
    return ::testing::AssertionFailure() << "an element outside the matrix was written";
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult all_equal(const Matrix<T>& got, const Matrix<T>& want) {
  return all_close(got, want, [](index_t, index_t) { return 0.0; });
}

// Bitwise equality of two buffers (NaN payloads and the sign of zero included).
template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Runs f() once per thread count in {1, 2, 3} and checks every run produced the same bits as the first.
// f returns whatever it wants compared, as a vector of T.
template <class T>
::testing::AssertionResult same_bits_for_any_thread_count(const std::function<std::vector<T>()>& f) {
  std::vector<T> first;
  for (int threads : {1, 2, 3}) {
    ThreadScope scope(threads);
    std::vector<T> out = f();
    if (threads == 1) {
      first = std::move(out);
    } else if (!bitwise_equal(first, out)) {
      return ::testing::AssertionFailure() << "result with " << threads << " threads differs from 1 thread";
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs check(layout) for every target and odd layout, with the target and layout in failure messages.
template <class Check>
void for_every_target_and_layout(const Check& check) {
  for (Target target : available_targets()) {
    TargetScope scope(target);
    SCOPED_TRACE(testing::target_label(target));
    for (const Layout& s : odd_layouts()) {
      SCOPED_TRACE(::testing::Message() << "shape " << s);
      check(s);
      if (::testing::Test::HasFailure()) return;  // one broken kernel should not print 300 failures
    }
  }
}

}  // namespace tapelab::kernels::testing
