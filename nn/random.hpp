#pragma once
// Rng: the one seeded generator every initialiser and data generator of nn/ draws from.
//
// std::mt19937_64 is specified bit-for-bit by the C++ standard; the distributions of <random> are not (their
// output differs between libstdc++ and libc++ versions). So uniform and normal variates are computed here:
// uniform01 from the top 53 bits, normal by Box-Muller. Same seed -> same numbers on every platform and for
// every thread count (nothing in nn/ draws from more than one thread).
#include <cstdint>
#include <random>

namespace tapelab::nn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform on [0, 1), 53 random bits.
  double uniform01() { return double(engine_() >> 11) * 0x1.0p-53; }
  // Uniform on [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform01(); }
  // Standard normal N(0, 1), Box-Muller (the second variate of each pair is cached).
  double normal();
  double normal(double mean, double std) { return mean + std * normal(); }
  // Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias).
  std::uint64_t uniform_index(std::uint64_t n);

 private:
  std::mt19937_64 engine_;
  double cached_normal_ = 0.0;
  bool has_cached_normal_ = false;
};

}  // namespace tapelab::nn
