// The public kernel entry points: check arguments (assert in debug builds), then forward to the table of the
// active dispatch target.
#include <cassert>
#include <cstdint>

#include "kernels/activations.hpp"
#include "kernels/detail/kernel_table.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gemm.hpp"
#include "kernels/random.hpp"
#include "kernels/reductions.hpp"
#include "kernels/target.hpp"

namespace tapelab::kernels {
namespace {

template <class T>
const detail::KernelTable<T>& table() {
  switch (active_target()) {
    case Target::avx512: return detail::arch_table<Target::avx512, T>();
    case Target::avx2: return detail::arch_table<Target::avx2, T>();
    case Target::generic: break;
  }
  return detail::arch_table<Target::generic, T>();
}

// A rows x cols matrix with leading dimension ld is well formed.
[[maybe_unused]] bool shape_ok(index_t rows, index_t cols, index_t ld) {
  return rows >= 0 && cols >= 0 && (rows <= 1 || ld >= cols);
}

}  // namespace

template <class T>
void gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B,
          index_t ldb, T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep) {
  assert(M >= 0 && N >= 0 && K >= 0);
  assert(ta == Trans::N ? shape_ok(M, K, lda) : shape_ok(K, M, lda));
  assert(tb == Trans::N ? shape_ok(K, N, ldb) : shape_ok(N, K, ldb));
  assert(shape_ok(M, N, ldc));
  assert(ep == nullptr || ep->bias_mode == Bias::none || ep->bias != nullptr);
  if (M <= 0 || N <= 0) return;
  table<T>().gemm(ta, tb, M, N, K < 0 ? 0 : K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

#define TAPELAB_EW_CHECK(rows, cols) \
  assert((rows) >= 0 && (cols) >= 0); \
  if ((rows) <= 0 || (cols) <= 0) return

template <class T> void fill(index_t r, index_t c, T v, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().fill(r, c, v, y, ldy);
}
template <class T> void copy(index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().copy(r, c, x, ldx, y, ldy);
}
template <class T> void axpy(index_t r, index_t c, T alpha, const T* x, index_t ldx, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().axpy(r, c, alpha, x, ldx, y, ldy);
}
template <class T> void scale(index_t r, index_t c, T alpha, T* x, index_t ldx) {
  assert(shape_ok(r, c, ldx));
  TAPELAB_EW_CHECK(r, c);
  table<T>().scale(r, c, alpha, x, ldx);
}
template <class T>
void add(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy) && shape_ok(r, c, ldz));
  TAPELAB_EW_CHECK(r, c);
  table<T>().add(r, c, x, ldx, y, ldy, z, ldz);
}
template <class T>
void sub(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy) && shape_ok(r, c, ldz));
  TAPELAB_EW_CHECK(r, c);
  table<T>().sub(r, c, x, ldx, y, ldy, z, ldz);
}
template <class T>
void hadamard(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy, T* z, index_t ldz) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy) && shape_ok(r, c, ldz));
  TAPELAB_EW_CHECK(r, c);
  table<T>().hadamard(r, c, x, ldx, y, ldy, z, ldz);
}
template <class T> void add_row_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().add_row_vector(r, c, v, y, ldy);
}
template <class T> void add_col_vector(index_t r, index_t c, const T* v, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().add_col_vector(r, c, v, y, ldy);
}
template <class T> void column_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  assert(r >= 0 && c >= 0 && shape_ok(r, c, ldx));
  if (c <= 0) return;
  table<T>().column_sums(r < 0 ? 0 : r, c, x, ldx, beta, out);
}
template <class T> void row_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  assert(r >= 0 && c >= 0 && shape_ok(r, c, ldx));
  if (r <= 0) return;
  table<T>().row_sums(r, c < 0 ? 0 : c, x, ldx, beta, out);
}

template <class T>
void activation_forward(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y, index_t ldy) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_forward(a, r, c, x, ldx, y, ldy);
}
template <class T>
void activation_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* d, index_t ldd) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldd));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_derivative(a, r, c, x, ldx, d, ldd);
}
template <class T>
void activation_forward_with_derivative(Activation a, index_t r, index_t c, const T* x, index_t ldx, T* y,
                                        index_t ldy, T* d, index_t ldd) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy) && shape_ok(r, c, ldd));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_forward_with_derivative(a, r, c, x, ldx, y, ldy, d, ldd);
}
template <class T>
void activation_forward_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy,
                                 index_t lddy, T* y, index_t ldy, T* dx, index_t lddx) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, lddy) && shape_ok(r, c, ldy) && shape_ok(r, c, lddx));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_forward_backward(a, r, c, x, ldx, dy, lddy, y, ldy, dx, lddx);
}
template <class T>
void activation_backward(Activation a, index_t r, index_t c, const T* x, index_t ldx, const T* dy, index_t lddy,
                         T beta, T* dx, index_t lddx) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, lddy) && shape_ok(r, c, lddx));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_backward(a, r, c, x, ldx, dy, lddy, beta, dx, lddx);
}

template <class T>
void activation_backward_from_output(Activation a, index_t r, index_t c, const T* y, index_t ldy, const T* dy,
                                     index_t lddy, T beta, T* dx, index_t lddx) {
  assert(derivative_from_output(a));
  assert(shape_ok(r, c, ldy) && shape_ok(r, c, lddy) && shape_ok(r, c, lddx));
  TAPELAB_EW_CHECK(r, c);
  table<T>().activation_backward_from_output(a, r, c, y, ldy, dy, lddy, beta, dx, lddx);
}

template <class T> T sum(index_t r, index_t c, const T* x, index_t ldx) {
  assert(shape_ok(r, c, ldx));
  return (r <= 0 || c <= 0) ? T(0) : table<T>().sum(r, c, x, ldx);
}
template <class T> T dot(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy) {
  assert(shape_ok(r, c, ldx) && shape_ok(r, c, ldy));
  return (r <= 0 || c <= 0) ? T(0) : table<T>().dot(r, c, x, ldx, y, ldy);
}
template <class T> T squared_norm(index_t r, index_t c, const T* x, index_t ldx) {
  assert(shape_ok(r, c, ldx));
  return (r <= 0 || c <= 0) ? T(0) : table<T>().squared_norm(r, c, x, ldx);
}
template <class T> T max_abs(index_t r, index_t c, const T* x, index_t ldx) {
  assert(shape_ok(r, c, ldx));
  return (r <= 0 || c <= 0) ? T(0) : table<T>().max_abs(r, c, x, ldx);
}

void random_bits(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n,
                 std::uint64_t* out) {
  assert(n >= 0 && std::uint64_t(n) <= ~first);  // first + n <= 2^64 - 1: value indices do not wrap
  if (n <= 0) return;
  table<double>().random_bits(key, stream, first, n, out);
}
template <class T>
void random_uniform(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n, T lo, T hi,
                    T* out) {
  assert(n >= 0 && std::uint64_t(n) <= ~first);
  if (n <= 0) return;
  table<T>().random_uniform(key, stream, first, n, lo, hi, out);
}

#define TAPELAB_INSTANTIATE(T)                                                                                   \
  template void gemm<T>(Trans, Trans, index_t, index_t, index_t, T, const T*, index_t, const T*, index_t, T, T*, \
                        index_t, const GemmEpilogue<T>*);                                                        \
  template void fill<T>(index_t, index_t, T, T*, index_t);                                                       \
  template void copy<T>(index_t, index_t, const T*, index_t, T*, index_t);                                       \
  template void axpy<T>(index_t, index_t, T, const T*, index_t, T*, index_t);                                    \
  template void scale<T>(index_t, index_t, T, T*, index_t);                                                      \
  template void add<T>(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);                     \
  template void sub<T>(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);                     \
  template void hadamard<T>(index_t, index_t, const T*, index_t, const T*, index_t, T*, index_t);                \
  template void add_row_vector<T>(index_t, index_t, const T*, T*, index_t);                                      \
  template void add_col_vector<T>(index_t, index_t, const T*, T*, index_t);                                      \
  template void column_sums<T>(index_t, index_t, const T*, index_t, T, T*);                                      \
  template void row_sums<T>(index_t, index_t, const T*, index_t, T, T*);                                         \
  template void activation_forward<T>(Activation, index_t, index_t, const T*, index_t, T*, index_t);             \
  template void activation_derivative<T>(Activation, index_t, index_t, const T*, index_t, T*, index_t);          \
  template void activation_forward_with_derivative<T>(Activation, index_t, index_t, const T*, index_t, T*, index_t, \
                                                      T*, index_t);                                              \
  template void activation_forward_backward<T>(Activation, index_t, index_t, const T*, index_t, const T*,        \
                                               index_t, T*, index_t, T*, index_t);                               \
  template void activation_backward<T>(Activation, index_t, index_t, const T*, index_t, const T*, index_t, T, T*, \
                                       index_t);                                                                 \
  template void activation_backward_from_output<T>(Activation, index_t, index_t, const T*, index_t, const T*,      \
                                                   index_t, T, T*, index_t);                                     \
  template T sum<T>(index_t, index_t, const T*, index_t);                                                        \
  template T dot<T>(index_t, index_t, const T*, index_t, const T*, index_t);                                     \
  template T squared_norm<T>(index_t, index_t, const T*, index_t);                                               \
  template T max_abs<T>(index_t, index_t, const T*, index_t);                                                    \
  template void random_uniform<T>(std::uint64_t, std::uint64_t, std::uint64_t, index_t, T, T, T*);

TAPELAB_INSTANTIATE(float)
TAPELAB_INSTANTIATE(double)

}  // namespace tapelab::kernels
