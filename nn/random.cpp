#include "nn/random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "kernels/philox.hpp"
#include "kernels/random.hpp"

namespace tapelab::nn {
namespace {

// The first output of SplitMix64 seeded with `seed` (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; constants from Vigna's splitmix64.c). A bijection that scatters nearby seeds.
std::uint64_t splitmix64(std::uint64_t seed) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15u;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

struct NormalPair {
  double first, second;
};

// Box-Muller on two stream values: (r cos(2 pi u2), r sin(2 pi u2)), r = sqrt(-2 log u1), u1 in (0, 1] so
// that log(u1) is finite. The one place normal() and fill_normal() compute a pair.
NormalPair box_muller(std::uint64_t x1, std::uint64_t x2) {
  const double u1 = 1.0 - kernels::philox::unit_interval<double>(x1);
  const double u2 = kernels::philox::unit_interval<double>(x2);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

// mean + std z, the product rounded before the sum (never fused: see kernels::philox::rounded).
double shift_scale(double mean, double std, double z) { return mean + kernels::philox::rounded(std * z); }

}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t stream) : key_(splitmix64(seed)), stream_(stream) {}

void Rng::refill() {
  kernels::random_bits(key_, stream_, position_, kBuffer, buffer_.data());
  buffer_first_ = position_;
  buffered_ = kBuffer;
}

double Rng::uniform(double low, double high) { return kernels::philox::uniform(next_u64(), low, high); }

double Rng::normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  const std::uint64_t x1 = next_u64();
  const NormalPair z = box_muller(x1, next_u64());
  cached_normal_ = z.second;
  has_cached_normal_ = true;
  return z.first;
}

double Rng::normal(double mean, double std) { return shift_scale(mean, std, normal()); }

std::uint64_t Rng::uniform_index(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::uniform_index: n must be positive");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const std::uint64_t x = next_u64();
    if (x < limit) return x % n;
  }
}

void Rng::fill_uniform(std::span<double> out, double low, double high) {
  kernels::random_uniform<double>(key_, stream_, position_, kernels::index_t(out.size()), low, high,
                                  out.data());
  position_ += out.size();
}

void Rng::fill_normal(std::span<double> out, double mean, double std) {
  std::size_t i = 0;
  if (i < out.size() && has_cached_normal_) out[i++] = normal(mean, std);
  // Whole pairs from stream values drawn in bulk, in the order normal() would take them.
  constexpr std::size_t kPairs = 128;
  std::uint64_t bits[2 * kPairs];
  while (out.size() - i >= 2) {
    const std::size_t pairs = std::min(kPairs, (out.size() - i) / 2);
    kernels::random_bits(key_, stream_, position_, kernels::index_t(2 * pairs), bits);
    position_ += 2 * pairs;
    for (std::size_t p = 0; p < pairs; ++p) {
      const NormalPair z = box_muller(bits[2 * p], bits[2 * p + 1]);
      out[i++] = shift_scale(mean, std, z.first);
      out[i++] = shift_scale(mean, std, z.second);
    }
  }
  if (i < out.size()) out[i] = normal(mean, std);  // an odd count ends on a cached second variate
}

void Rng::seek(std::uint64_t position) {
  position_ = position;
  has_cached_normal_ = false;
}

}  // namespace tapelab::nn
