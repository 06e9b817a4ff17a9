#pragma once
// Reductions for one xsimd architecture (see kernels/reductions.hpp and elementwise.hpp for the contracts):
// the full reductions sum, dot, squared_norm, max_abs, and the broadcast gradients row_sums, column_sums.
//
// Determinism: a full reduction cuts the matrix into chunks (whole rows, or flat runs of a dense matrix)
// whose size depends only on the shape, reduces each chunk with a fixed vector-lane tree, then adds the chunk
// results in chunk order. Threads only decide who computes a chunk, so 1 and 16 threads give the same bits.
#include <cmath>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"
#include "kernels/detail/simd_util.hpp"

namespace tapelab::kernels::detail {
namespace {

// ---- Accumulators: kLanes independent batches, so one add/FMA latency chain does not throttle the loop.
constexpr int kLanes = 4;

template <class Arch, class T>
struct SumAccumulator {
  using B = Batch<Arch, T>;
  B acc[kLanes] = {B(T(0)), B(T(0)), B(T(0)), B(T(0))};
  void add(int k, const B& x) { acc[k] += x; }
  T result() const { return sum_lanes<Arch, T>((acc[0] + acc[1]) + (acc[2] + acc[3])); }
  static T combine(T a, T b) { return a + b; }
};

template <class Arch, class T>
struct DotAccumulator : SumAccumulator<Arch, T> {
  using B = Batch<Arch, T>;
  void add(int k, const B& x, const B& y) { this->acc[k] = xsimd::fma(x, y, this->acc[k]); }
};

template <class Arch, class T>
struct SquareAccumulator : SumAccumulator<Arch, T> {
  using B = Batch<Arch, T>;
  void add(int k, const B& x) { this->acc[k] = xsimd::fma(x, x, this->acc[k]); }
};

// max |x| with a separate NaN flag: x86 max returns its second operand when either is NaN, so a NaN would be
// kept or dropped depending on where it sits. The flag makes any NaN win.
template <class Arch, class T>
struct MaxAbsAccumulator {
  using B = Batch<Arch, T>;
  B acc[kLanes] = {B(T(0)), B(T(0)), B(T(0)), B(T(0))};
  // Parentheses, not braces: batch_bool{false} picks the initializer_list constructor and reads W bools.
  typename B::batch_bool_type nan = typename B::batch_bool_type(false);
  void add(int k, const B& x) {
    acc[k] = xsimd::max(acc[k], xsimd::abs(x));
    nan = nan | xsimd::isnan(x);  // not |=: xsimd 8.1 declares batch_bool::operator|= const
  }
  T result() const {
    if (xsimd::any(nan)) return std::numeric_limits<T>::quiet_NaN();
    alignas(64) T lanes[B::size];
    xsimd::max(xsimd::max(acc[0], acc[1]), xsimd::max(acc[2], acc[3])).store_aligned(lanes);
    T m = 0;
    for (T v : lanes) m = v > m ? v : m;
    return m;
  }
  static T combine(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return b > a ? b : a;
  }
};

// Feeds n elements (of one or two operands) to an accumulator: kLanes batches per step, then single batches,
// then a zero-padded tail (zeros change no sum, dot or max |x|).
template <class Arch, class Acc, class T, class... More>
void accumulate_span(Acc& acc, index_t n, const T* x, const More*... more) {
  using B = Batch<Arch, T>;
  constexpr index_t W = B::size;
  index_t j = 0;
  for (; j + kLanes * W <= n; j += kLanes * W) {
#pragma GCC unroll 4
    for (int k = 0; k < kLanes; ++k)
      acc.add(k, B::load_unaligned(x + j + k * W), B::load_unaligned(more + j + k * W)...);
  }
  for (; j + W <= n; j += W) acc.add(0, B::load_unaligned(x + j), B::load_unaligned(more + j)...);
  if (j < n) acc.add(0, load_partial<Arch>(x + j, n - j), load_partial<Arch>(more + j, n - j)...);
}

// ---- Chunking of the full reductions.
constexpr index_t kChunkElements = index_t(1) << 14;  // ~one L1-L2 friendly piece of work
constexpr index_t kMaxChunks = 256;                   // bounds the stack array of partial results

// Reduces rows x cols with `Acc`; span(acc, i, j0, n) accumulates the n elements starting at (i, j0). A dense
// matrix is cut into flat runs (so a single long row still splits), otherwise into runs of whole rows.
template <class Acc, class T, class Span>
T reduce_matrix(index_t rows, index_t cols, bool flat, const Span& span) {
  const index_t units = flat ? rows * cols : rows;  // what a chunk is made of: elements or rows
  const index_t unit_size = flat ? 1 : cols;
  index_t per = kChunkElements / unit_size > 1 ? kChunkElements / unit_size : 1;
  if ((units + per - 1) / per > kMaxChunks) per = (units + kMaxChunks - 1) / kMaxChunks;
  const index_t chunks = (units + per - 1) / per;

  T partial[kMaxChunks];
  partial[0] = T(0);  // chunks >= 1 always; this only tells the compiler so
  const auto run = [&](index_t k) {
    Acc acc;
    const index_t u0 = k * per, u1 = units - u0 < per ? units : u0 + per;
    if (flat) {
      span(acc, index_t(0), u0, u1 - u0);
    } else {
      for (index_t i = u0; i < u1; ++i) span(acc, i, index_t(0), cols);
    }
    partial[k] = acc.result();
  };
  if (chunks > 1 && rows * cols >= kParallelElements) {
#pragma omp parallel for schedule(static)
    for (index_t k = 0; k < chunks; ++k) run(k);
  } else {
    for (index_t k = 0; k < chunks; ++k) run(k);
  }
  T total = partial[0];
  for (index_t k = 1; k < chunks; ++k) total = Acc::combine(total, partial[k]);
  return total;
}

template <class Arch, class T>
T simd_sum(index_t r, index_t c, const T* x, index_t ldx) {
  return reduce_matrix<SumAccumulator<Arch, T>, T>(
      r, c, dense(r, c, ldx),
      [&](auto& acc, index_t i, index_t j0, index_t n) { accumulate_span<Arch>(acc, n, x + i * ldx + j0); });
}

template <class Arch, class T>
T simd_dot(index_t r, index_t c, const T* x, index_t ldx, const T* y, index_t ldy) {
  return reduce_matrix<DotAccumulator<Arch, T>, T>(
      r, c, dense(r, c, ldx) && dense(r, c, ldy), [&](auto& acc, index_t i, index_t j0, index_t n) {
        accumulate_span<Arch>(acc, n, x + i * ldx + j0, y + i * ldy + j0);
      });
}

template <class Arch, class T>
T simd_squared_norm(index_t r, index_t c, const T* x, index_t ldx) {
  return reduce_matrix<SquareAccumulator<Arch, T>, T>(
      r, c, dense(r, c, ldx),
      [&](auto& acc, index_t i, index_t j0, index_t n) { accumulate_span<Arch>(acc, n, x + i * ldx + j0); });
}

template <class Arch, class T>
T simd_max_abs(index_t r, index_t c, const T* x, index_t ldx) {
  return reduce_matrix<MaxAbsAccumulator<Arch, T>, T>(
      r, c, dense(r, c, ldx),
      [&](auto& acc, index_t i, index_t j0, index_t n) { accumulate_span<Arch>(acc, n, x + i * ldx + j0); });
}

// ---- Broadcast gradients.

// out[i] = beta * out[i] + sum_j x[i, j]; each row is reduced by one thread with the SumAccumulator tree.
template <class Arch, class T>
void simd_row_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  for_each_row(r, c, [&](index_t i) {
    SumAccumulator<Arch, T> acc;
    accumulate_span<Arch>(acc, c, x + i * ldx);
    const T s = acc.result();
    out[i] = beta == T(0) ? s : beta * out[i] + s;
  });
}

// out[j] = beta * out[j] + sum_i x[i, j], each column summed top to bottom (i = 0, 1, ...) exactly like the
// reference loop. Vectorised across j: a group of kLanes batches of columns keeps its sums in registers while
// it walks down the rows, so every element is loaded once. Threads take whole groups, never split a column.
template <class Arch, class T>
void simd_column_sums(index_t r, index_t c, const T* x, index_t ldx, T beta, T* out) {
  using B = Batch<Arch, T>;
  constexpr index_t W = B::size;
  constexpr index_t kGroup = kLanes * W;       // columns per group
  const auto finish = [&](T* o, const B& s) {  // beta == 0 never reads out
    (beta == T(0) ? s : xsimd::fma(B(beta), B::load_unaligned(o), s)).store_unaligned(o);
  };
  const auto group = [&](index_t g) {
    index_t j = g * kGroup;
    if (c - j >= kGroup) {
      B s[kLanes] = {B(T(0)), B(T(0)), B(T(0)), B(T(0))};
      for (index_t i = 0; i < r; ++i) {
        const T* xi = x + i * ldx + j;
#pragma GCC unroll 4
        for (int k = 0; k < kLanes; ++k) s[k] += B::load_unaligned(xi + k * W);
      }
      for (int k = 0; k < kLanes; ++k) finish(out + j + k * W, s[k]);
      return;
    }
    for (; j + W <= c; j += W) {  // the last, narrower group: one batch of columns at a time
      B s(T(0));
      for (index_t i = 0; i < r; ++i) s += B::load_unaligned(x + i * ldx + j);
      finish(out + j, s);
    }
    for (; j < c; ++j) {  // fewer than W columns left: scalar, the same additions in the same order
      T s = 0;
      for (index_t i = 0; i < r; ++i) s += x[i * ldx + j];
      out[j] = beta == T(0) ? s : beta * out[j] + s;
    }
  };
  const index_t groups = (c + kGroup - 1) / kGroup;
  if (groups > 1 && r * c >= kParallelElements) {
#pragma omp parallel for schedule(static)
    for (index_t g = 0; g < groups; ++g) group(g);
  } else {
    for (index_t g = 0; g < groups; ++g) group(g);
  }
}

}  // namespace
}  // namespace tapelab::kernels::detail

