#pragma once
// Shared helpers of the autodiff tests.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autodiff/autodiff.hpp"

namespace tapelab::test {

// max |a - b| over two views of the same shape.
template <class T>
double max_abs_diff(TensorView<const T> a, TensorView<const T> b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  double m = 0;
  for (index_t i = 0; i < a.rows; ++i)
    for (index_t j = 0; j < a.cols; ++j) m = std::fmax(m, std::fabs(double(a(i, j)) - double(b(i, j))));
  return m;
}

template <class T>
double max_abs(TensorView<const T> a) {
  double m = 0;
  for (index_t i = 0; i < a.rows; ++i)
    for (index_t j = 0; j < a.cols; ++j) m = std::fmax(m, std::fabs(double(a(i, j))));
  return m;
}

// Runs f and returns the message of the exception of type E it throws ("" and a test failure otherwise).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

}  // namespace tapelab::test
