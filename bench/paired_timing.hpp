#pragma once
// Two pieces of work timed in alternating pairs, to compare them on a shared core. The speed of a core drifts
// over milliseconds to seconds (other tenants, clocks), which two benchmark rows run seconds apart see as
// different conditions; the two halves of a pair, run back to back, see nearly the same one, and a median over
// thousands of pairs discards the pairs a spike did hit. Who goes first alternates.
// Used by BM_GemmPaired (bench_kernels) and BM_TapeOverheadPaired (bench_autodiff).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace tapelab::bench {

// Seconds per call of each side, one entry per pair (per benchmark iteration), in the same order.
struct PairedTimes {
  std::vector<double> first, second;
};

// Seconds per call of `calls` calls of f in a row.
template <class F>
double seconds_per_call(F&& f, int calls) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls;
}

// Each iteration of `state` times `calls` calls of `first` and `calls` of `second` back to back.
template <class F, class G>
PairedTimes time_in_pairs(benchmark::State& state, F&& first, G&& second, int calls) {
  auto burst = [calls](auto&& f) { return seconds_per_call(f, calls); };
  PairedTimes t;
  bool second_first = false;
  for (auto _ : state) {
    double a, b;
    if (second_first) {
      b = burst(second);
      a = burst(first);
    } else {
      a = burst(first);
      b = burst(second);
    }
    second_first = !second_first;
    t.first.push_back(a);
    t.second.push_back(b);
  }
  return t;
}

// The median (the upper one of an even count; 0 for none).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace tapelab::bench
