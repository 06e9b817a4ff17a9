#pragma once
// Tensor<T>: an owning rows x cols row-major matrix, 64-byte aligned, contiguous (ld == cols).
// TensorView<T>: a non-owning window (pointer, rows, cols, leading dimension); TensorView<const T> is
// read-only.
//
// Column ranges are views without copies: a mini-batch of columns [j0, j1) of a d x N data matrix is
// `X.col_range(j0, j1)`, a d x (j1 - j0) view with ld == N. Every kernel and op takes leading dimensions, so
// views go everywhere a tensor does.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <random>
#include <type_traits>

#include "autodiff/errors.hpp"

namespace tapelab {

inline constexpr std::size_t kTensorAlignment = 64;  // a cache line, and an AVX-512 register

template <class T>
struct TensorView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t ld = 0;

  T& operator()(index_t i, index_t j) const { return data[i * ld + j]; }
  index_t size() const { return rows * cols; }
  bool contiguous() const { return ld == cols || rows <= 1; }

  // Columns [begin, end) as a rows x (end - begin) view sharing this storage.
  TensorView col_range(index_t begin, index_t end) const {
    if (begin < 0 || end < begin || end > cols)
      throw ShapeError("col_range: columns [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") do not fit a tensor of " + shape_string(rows, cols));
    return {data + begin, rows, end - begin, ld};
  }

  // A view of T converts to a view of const T.
  operator TensorView<const std::remove_const_t<T>>() const  // NOLINT(google-explicit-constructor)
      requires(!std::is_const_v<T>) {
    return {data, rows, cols, ld};
  }
};

template <class T>
class Tensor {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "tapelab tensors hold float or double");

 public:
  Tensor() = default;
  // rows x cols, zero-initialised.
  Tensor(index_t rows, index_t cols) : rows_(rows), cols_(cols) {
    if (rows < 0 || cols < 0) throw ShapeError("Tensor: negative shape " + shape_string(rows, cols));
    if (size() > 0) {
      data_.reset(static_cast<T*>(::operator new (bytes(), std::align_val_t{kTensorAlignment})));
      for (index_t i = 0; i < size(); ++i) data_[i] = T(0);
    }
  }
  Tensor(std::initializer_list<std::initializer_list<T>> rows_list)
      : Tensor(index_t(rows_list.size()), rows_list.size() ? index_t(rows_list.begin()->size()) : 0) {
    index_t i = 0;
    for (const auto& row : rows_list) {
      if (index_t(row.size()) != cols_) throw ShapeError("Tensor: ragged initializer list");
      index_t j = 0;
      for (T v : row) (*this)(i, j++) = v;
      ++i;
    }
  }
  explicit Tensor(TensorView<const T> v) : Tensor(v.rows, v.cols) {
    for (index_t i = 0; i < rows_; ++i)
      for (index_t j = 0; j < cols_; ++j) (*this)(i, j) = v(i, j);
  }
  Tensor(const Tensor& other) : Tensor(other.view()) {}
  Tensor& operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
  }
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  static Tensor filled(index_t rows, index_t cols, T value) {
    Tensor t(rows, cols);
    for (index_t i = 0; i < t.size(); ++i) t.data_[i] = value;
    return t;
  }
  // i.i.d. uniform on [lo, hi) from a seeded 64-bit Mersenne twister (for tests, benchmarks, examples;
  // the initialisations of the papers live in nn/).
  static Tensor uniform(index_t rows, index_t cols, std::uint64_t seed, T lo = T(-1), T hi = T(1)) {
    Tensor t(rows, cols);
    std::mt19937_64 rng(seed);
    for (index_t i = 0; i < t.size(); ++i) t.data_[i] = lo + (hi - lo) * T(double(rng() >> 11) * 0x1.0p-53);
    return t;
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t ld() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T& operator()(index_t i, index_t j) { return data_[i * cols_ + j]; }
  const T& operator()(index_t i, index_t j) const { return data_[i * cols_ + j]; }

  TensorView<T> view() { return {data(), rows_, cols_, cols_}; }
  TensorView<const T> view() const { return {data(), rows_, cols_, cols_}; }
  operator TensorView<T>() { return view(); }              // NOLINT(google-explicit-constructor)
  operator TensorView<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)
  TensorView<T> col_range(index_t begin, index_t end) { return view().col_range(begin, end); }
  TensorView<const T> col_range(index_t begin, index_t end) const { return view().col_range(begin, end); }

 private:
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete (p, std::align_val_t{kTensorAlignment}); }
  };
  std::size_t bytes() const { return std::size_t(size()) * sizeof(T); }

  std::unique_ptr<T[], AlignedDelete> data_;
  index_t rows_ = 0;
  index_t cols_ = 0;
};

}  // namespace tapelab
