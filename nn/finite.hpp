#pragma once
// Internal helpers of nn/train.cpp and nn/optim.cpp for the per-iteration NaN/Inf checks, which sweep every
// value and gradient of a deep network each step and so must run at memory speed.
#include <cstdint>
#include <cstring>

#include "kernels/target.hpp"
#include "nn/module.hpp"
#include "nn/train.hpp"

namespace tapelab::nn::detail {

// True if no entry of t is NaN or Inf. A double is NaN or Inf iff its exponent bits are all ones, and then adding
// one to the exponent field carries into the sign bit: integer arithmetic only, so the compiler vectorises the
// loop at the baseline ISA (a floating-point reduction it may not reorder without fast-math), and inline, so a
// 4 KB parameter costs no kernel dispatch.
inline bool all_finite(const Tensor<double>& t) {
  constexpr std::uint64_t kExponent = 0x7ff0000000000000u, kExponentOne = 0x0010000000000000u;
  const double* x = t.data();
  const index_t n = t.size();
  std::uint64_t carry = 0;
  for (index_t i = 0; i < n; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    carry |= (bits & kExponent) + kExponentOne;
  }
  return (carry >> 63) == 0;
}

// Asks for the cache lines of t. Each parameter is its own small allocation, so a sweep over a deep network's
// parameters jumps to a new address every few KB, where the hardware prefetchers start over: asking for the next
// parameters' lines while working on this one keeps the sweep near memory bandwidth.
inline void prefetch(const Tensor<double>& t, bool for_write = false) {
  const char* p = reinterpret_cast<const char*>(t.data());
  const std::size_t bytes = std::size_t(t.size()) * sizeof(double);
  for (std::size_t off = 0; off < bytes; off += 64) {
    if (for_write)
      __builtin_prefetch(p + off, 1, 1);
    else
      __builtin_prefetch(p + off, 0, 1);
  }
}

// How many parameters ahead the sweeps prefetch.
inline constexpr std::size_t kPrefetchAhead = 2;

// Calls part(begin, end) over [0, n) in two halves, on two threads when op threads are on and n is large (a
// deep network's parameter list: the sweeps are memory-bound, and two cores draw more bandwidth than one), else
// once. Each parameter is handled by exactly one call, so results do not depend on the thread count.
template <class Part>
void for_halves(std::size_t n, const Part& part) {
  constexpr std::size_t kMinParallel = 256;  // parameters
  if (n >= kMinParallel && kernels::op_threads() > 1) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int h = 0; h < 2; ++h) part(h == 0 ? 0 : n / 2, h == 0 ? n / 2 : n);
  } else {
    part(std::size_t(0), n);
  }
}

// check_finite's sweep: are all values (if `values`) and all gradients (if `gradients`) of `params` finite?
// visit(i) runs on each parameter just before its checks, while the sweep has its lines coming in: a step
// that sweeps the parameters anyway (nn::DataParallelStep's sum of its parts) makes the checks in the same
// sweep.
template <class Visit>
FiniteScan scan_finite(const std::vector<Param*>& params, bool values, bool gradients, const Visit& visit) {
  bool bad_values[2] = {false, false}, bad_gradients[2] = {false, false};  // per half
  for_halves(params.size(), [&](std::size_t begin, std::size_t end) {
    bool v = true, g = true;
    for (std::size_t i = begin; i < end; ++i) {
      if (i + kPrefetchAhead < end) {
        if (values) prefetch(params[i + kPrefetchAhead]->value);
        if (gradients) prefetch(params[i + kPrefetchAhead]->grad);
      }
      visit(i);
      if (values) v = v && all_finite(params[i]->value);
      if (gradients) g = g && all_finite(params[i]->grad);
    }
    bad_values[begin == 0 ? 0 : 1] = !v;
    bad_gradients[begin == 0 ? 0 : 1] = !g;
  });
  return {!(bad_values[0] || bad_values[1]), !(bad_gradients[0] || bad_gradients[1])};
}

}  // namespace tapelab::nn::detail
