#pragma once
// Naive reference loops for every kernel: the oracle of the tests, written to be obviously right, not fast.
// Same contracts as gemm.hpp, elementwise.hpp, activations.hpp, reductions.hpp and random.hpp.
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/common.hpp"
#include "kernels/gemm.hpp"
#include "kernels/philox.hpp"
#include "kernels/scalar_math.hpp"

namespace tapelab::kernels::reference {

template <class T>
T at(Trans t, const T* X, index_t ld, index_t i, index_t j) {  // op(X)[i, j]
  return t == Trans::N ? X[i * ld + j] : X[j * ld + i];
}

template <class T>
void gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
          index_t ldb, T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep = nullptr) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      T acc = 0;
      for (index_t k = 0; k < K; ++k) acc += at(ta, A, lda, i, k) * at(tb, B, ldb, k, j);
      const T* c_in = ep != nullptr && ep->c_in != nullptr ? ep->c_in + i * ep->ld_c_in + j : C + i * ldc + j;
      T z = alpha * acc + (beta == T(0) ? T(0) : beta * *c_in);
      if (ep != nullptr) {
        if (ep->bias_mode == Bias::per_row) z += ep->bias[i];
        if (ep->bias_mode == Bias::per_col) z += ep->bias[j];
        if (ep->pre_activation != nullptr) ep->pre_activation[i * ep->ld_pre_activation + j] = z;
        if (ep->derivative != nullptr) ep->derivative[i * ep->ld_derivative + j] = scalar::derivative(ep->activation, z);
        z = scalar::activate(ep->activation, z);
      }
      C[i * ldc + j] = z;
    }
}

template <class T> void fill(index_t r, index_t c, T v, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] = v;
}
template <class T> void copy(index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] = x[i * ldx + j];
}
template <class T> void axpy(index_t r, index_t c, T alpha, const T* x, index_t ldx, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] += alpha * x[i * ldx + j];
}
template <class T> void scale(index_t r, index_t c, T alpha, T* x, index_t ldx) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) x[i * ldx + j] *= alpha;
}
template <class T>
void add(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] + y[i * ldy + j];
}
template <class T>
void sub(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] - y[i * ldy + j];
}
template <class T>
void hadamard(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) z[i * ldz + j] = x[i * ldx + j] * y[i * ldy + j];
}
template <class T> void add_row_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] += v[j];
}
template <class T> void add_col_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] += v[i];
}
template <class T> void column_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  for (index_t j = 0; j < c; ++j) {
    T s = 0;
    for (index_t i = 0; i < r; ++i) s += x[i * ldx + j];
    out[j] = (beta == T(0) ? T(0) : beta * out[j]) + s;
  }
}
template <class T> void row_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  for (index_t i = 0; i < r; ++i) {
    T s = 0;
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j];
    out[i] = (beta == T(0) ? T(0) : beta * out[i]) + s;
  }
}

template <class T>
void activation_forward(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) y[i * ldy + j] = scalar::activate(a, x[i * ldx + j]);
}
template <class T>
void activation_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* d, index_t ldd) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) d[i * ldd + j] = scalar::derivative(a, x[i * ldx + j]);
}
template <class T>
void activation_forward_with_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y,
                                        index_t ldy, T* d, index_t ldd) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T v = x[i * ldx + j];  // read before the writes: y may be x
      y[i * ldy + j] = scalar::activate(a, v);
      d[i * ldd + j] = scalar::derivative(a, v);
    }
}
template <class T>
void activation_forward_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy,
                                 index_t lddy, T* y, index_t ldy, T* dx, index_t lddx) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T v = x[i * ldx + j], g = dy[i * lddy + j];  // read before the writes: y may be x, dx may be dy
      y[i * ldy + j] = scalar::activate(a, v);
      dx[i * lddx + j] = g * scalar::derivative(a, v);
    }
}
template <class T>
void activation_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy, index_t lddy,
                         T beta, T* dx, index_t lddx) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T g = dy[i * lddy + j] * scalar::derivative(a, x[i * ldx + j]);
      dx[i * lddx + j] = (beta == T(0) ? T(0) : beta * dx[i * lddx + j]) + g;
    }
}

template <class T>
void activation_backward_from_output(Activation a, index_t r, index_t c, const T* y, index_t ldy, const T* dy,
                                     index_t lddy, T beta, T* dx, index_t lddx) {
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T g = dy[i * lddy + j] * scalar::derivative_from_output(a, y[i * ldy + j]);
      dx[i * lddx + j] = (beta == T(0) ? T(0) : beta * dx[i * lddx + j]) + g;
    }
}

template <class T> T sum(index_t r, index_t c, const T* x, index_t ldx) {
  T s = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j];
  return s;
}
template <class T> T dot(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy) {
  T s = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) s += x[i * ldx + j] * y[i * ldy + j];
  return s;
}
template <class T> T squared_norm(index_t r, index_t c, const T* x, index_t ldx) { return dot(r, c, x, ldx, x, ldx); }
template <class T> T max_abs(index_t r, index_t c, const T* x, index_t ldx) {
  T m = 0;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const T v = x[i * ldx + j];
      if (std::isnan(v)) return std::numeric_limits<T>::quiet_NaN();
      m = std::fabs(v) > m ? std::fabs(v) : m;
    }
  return m;
}

// One Philox block per value, straight from the stream contract.
inline void random_bits(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n,
                        std::uint64_t* out) {
  for (index_t i = 0; i < n; ++i) out[i] = philox::stream_value(key, stream, first + std::uint64_t(i));
}
template <class T>
void random_uniform(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n, T lo, T hi,
                    T* out) {
  for (index_t i = 0; i < n; ++i)
    out[i] = philox::uniform(philox::stream_value(key, stream, first + std::uint64_t(i)), lo, hi);
}

}  // namespace tapelab::kernels::reference
