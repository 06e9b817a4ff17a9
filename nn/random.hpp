#pragma once
// Rng: the one seeded generator every initialiser and data generator of nn/ draws from.
//
// It reads a Philox4x32-10 stream (kernels/random.hpp), for four reasons:
//   - counter-based: value j of a stream is a pure function of (key, stream, j). Any thread can draw any
//     part of any stream (network s, layer k) in any order with identical results, so results do not
//     depend on the thread count, and seek() is free.
//   - platform-independent: the stream and the conversions to uniform and normal variates are specified
//     bit for bit (kernels/philox.hpp and below), unlike the distributions of <random>, whose output
//     differs between libstdc++ and libc++. Same seed, same numbers on every machine and dispatch target.
//   - vectorised: fill_uniform runs the SIMD kernel, about 0.8 ns per double on the AVX-512 machine where
//     std::mt19937_64 took 5 ns (bench: BM_Random); the experiments draw 10^9..10^11 weights.
//   - streams: 2^64 independent streams per seed, e.g. one per network of a sweep.
//
// Variates: uniform01 is the top 53 bits of a value times 2^-53; uniform(lo, hi) = lo + (hi - lo) u, each
// operation rounded once; normal() is Box-Muller on two successive values (the second variate of each pair is
// cached), with std::log/std::sin/std::cos in scalar code, so it does not depend on the dispatch target.
// The bulk draws give exactly the numbers the same count of scalar calls would give.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tapelab::nn {

class Rng {
 public:
  // key = SplitMix64(seed) (so seeds 0, 1, 2 give unrelated keys), the stream id as given, position 0.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);

  // The next value of the stream.
  std::uint64_t next_u64() {
    if (position_ - buffer_first_ >= buffered_) refill();  // unsigned: also when position_ < buffer_first_
    return buffer_[position_++ - buffer_first_];
  }
  // Uniform on [0, 1), 53 random bits: (next_u64() >> 11) 2^-53.
  double uniform01() { return double(next_u64() >> 11) * 0x1.0p-53; }
  // lo + (high - low) uniform01(): on [low, high) up to rounding (kernels/philox.hpp).
  double uniform(double low, double high);
  // Standard normal N(0, 1), Box-Muller (the second variate of each pair is cached).
  double normal();
  double normal(double mean, double std);  // mean + std * normal()
  // Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias).
  std::uint64_t uniform_index(std::uint64_t n);

  // Bulk draws, bitwise equal to out.size() successive uniform(low, high) / normal(mean, std) calls, from
  // wherever the generator stands (a cached normal included). fill_uniform is the vectorised kernel.
  void fill_uniform(std::span<double> out, double low, double high);
  void fill_normal(std::span<double> out, double mean, double std);

  // The index of the next stream value next_u64() returns (each uniform takes one, each pair of normals two).
  // seek(p) moves there and drops a cached normal, so the generator then behaves as a fresh one at p.
  std::uint64_t position() const { return position_; }
  void seek(std::uint64_t position);

  // The Philox key (SplitMix64 of the seed) and stream id: with kernels::random_bits they give the same
  // numbers as this generator, for code that draws from several threads.
  std::uint64_t key() const { return key_; }
  std::uint64_t stream() const { return stream_; }

 private:
  static constexpr std::size_t kBuffer = 16;  // values per refill: one AVX-512 chunk of the kernel
  void refill();

  std::uint64_t key_;
  std::uint64_t stream_;
  std::uint64_t position_ = 0;
  // buffer_[i] holds stream value buffer_first_ + i, for i < buffered_.
  std::uint64_t buffer_first_ = 0;
  std::uint64_t buffered_ = 0;
  std::array<std::uint64_t, kBuffer> buffer_{};
  double cached_normal_ = 0.0;
  bool has_cached_normal_ = false;
};

}  // namespace tapelab::nn
