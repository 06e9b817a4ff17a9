#pragma once
// Helpers shared by the kernel tests: padded random matrices (leading dimension > cols and a start that is not
// vector-aligned, so tails and unaligned loads are exercised), a scope that switches the dispatch target, and
// the shape lists that catch tail bugs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/common.hpp"
#include "kernels/target.hpp"

namespace tapelab::kernels::testing {

// Sizes around every vector width and micro-tile edge (1..4 lanes, 8/16 lanes, MR/NR multiples).
inline const std::vector<index_t> kOddSizes = {1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 127, 257};

// A rows x cols matrix stored with leading dimension cols + pad, starting `offset` elements into its buffer so
// that row starts are not vector-aligned. Padding is filled with a sentinel that must never change.
template <class T>
struct Matrix {
  index_t rows = 0, cols = 0, ld = 0, offset = 0;
  std::vector<T> buf;

  Matrix(index_t r, index_t c, index_t pad = 3, index_t off = 1)
      : rows(r), cols(c), ld(c + pad), offset(off), buf(static_cast<size_t>(off + r * (c + pad) + pad), sentinel()) {}

  static T sentinel() { return T(-12345.25); }
  T* data() { return buf.data() + offset; }
  const T* data() const { return buf.data() + offset; }
  T& operator()(index_t i, index_t j) { return data()[i * ld + j]; }
  T operator()(index_t i, index_t j) const { return data()[i * ld + j]; }

  void randomize(std::mt19937_64& rng, T lo = T(-1), T hi = T(1)) {
    std::uniform_real_distribution<double> u{double(lo), double(hi)};
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) (*this)(i, j) = T(u(rng));
  }
  void fill(T v) {
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) (*this)(i, j) = v;
  }
  // True if every element outside the rows x cols window still holds the sentinel.
  bool padding_intact() const {
    for (index_t p = 0; p < static_cast<index_t>(buf.size()); ++p) {
      const index_t q = p - offset;
      const bool inside = q >= 0 && q / ld < rows && q % ld < cols;
      if (!inside && buf[p] != sentinel()) return false;
    }
    return true;
  }
};

// Switches the dispatch target for one scope and restores the previous one.
class TargetScope {
 public:
  explicit TargetScope(Target t) : saved_(active_target()) { set_target(t); }
  ~TargetScope() { set_target(saved_); }
  TargetScope(const TargetScope&) = delete;
  TargetScope& operator=(const TargetScope&) = delete;

 private:
  Target saved_;
};

// Sets the OpenMP thread count for one scope.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadScope() { set_num_threads(saved_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
};

template <class T> constexpr T eps() { return std::numeric_limits<T>::epsilon(); }

inline std::string target_label(Target t) { return "target=" + std::string(target_name(t)); }

// Typed-test list: every kernel test runs in float and double.
using ScalarTypes = ::testing::Types<float, double>;

}  // namespace tapelab::kernels::testing
