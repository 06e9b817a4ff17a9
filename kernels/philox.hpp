#pragma once
// Philox4x32-10 in plain scalar code, and the mapping from it to a stream of 64-bit words and to uniform
// floats. This is the specification: the reference loops (reference.hpp), the SIMD kernels' tests and
// nn::Rng's scalar draws all use these functions, and the vectorised kernels (random.hpp) must match them bit
// for bit.
//
// Philox4x32-10: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11, section
// 3.2, as implemented in Random123 (philox.h, philox4x32round / philox4x32bumpkey). One round maps counter
// words (c0, c1, c2, c3) and key words (k0, k1) to
//   (hi(M1 c2) ^ c1 ^ k0,  lo(M1 c2),  hi(M0 c0) ^ c3 ^ k1,  lo(M0 c0))
// with the 32x32 -> 64-bit products M0 c0, M1 c2; then the key is bumped by the Weyl constants. Ten rounds,
// the first with the key as given.
//
// Like scalar_math.hpp, everything is in an unnamed namespace: the architecture translation units compile
// this header with their own flags, and an ordinary inline function could be merged into the baseline build.
#include <array>
#include <cstdint>

namespace tapelab::kernels::philox {
namespace {

inline constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;  // PHILOX_M4x32_0
inline constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;  // PHILOX_M4x32_1
inline constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;        // PHILOX_W32_0: golden ratio
inline constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;        // PHILOX_W32_1: sqrt(3) - 1
inline constexpr int kRounds = 10;

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

constexpr Counter philox4x32_10(Counter c, Key k) {
  for (int round = 0; round < kRounds; ++round) {
    const std::uint64_t p0 = std::uint64_t(kMultiplier0) * c[0];
    const std::uint64_t p1 = std::uint64_t(kMultiplier1) * c[2];
    c = {std::uint32_t(p1 >> 32) ^ c[1] ^ k[0], std::uint32_t(p1), std::uint32_t(p0 >> 32) ^ c[3] ^ k[1],
         std::uint32_t(p0)};
    k = {k[0] + kWeyl0, k[1] + kWeyl1};
  }
  return c;
}

constexpr std::uint32_t lo32(std::uint64_t x) { return std::uint32_t(x); }
constexpr std::uint32_t hi32(std::uint64_t x) { return std::uint32_t(x >> 32); }

// The 64-bit stream (a stable, platform-independent contract; see random.hpp): value j of stream `stream`
// under `key` comes from block b = j / 2, whose counter is {lo32(b), hi32(b), lo32(stream), hi32(stream)} and
// key {lo32(key), hi32(key)}; output words (w0, w1, w2, w3) give value 2b = (w1 << 32) | w0 and value
// 2b + 1 = (w3 << 32) | w2.
constexpr std::array<std::uint64_t, 2> stream_block(std::uint64_t key, std::uint64_t stream,
                                                    std::uint64_t block) {
  const Counter w =
      philox4x32_10({lo32(block), hi32(block), lo32(stream), hi32(stream)}, {lo32(key), hi32(key)});
  return {(std::uint64_t(w[1]) << 32) | w[0], (std::uint64_t(w[3]) << 32) | w[2]};
}

constexpr std::uint64_t stream_value(std::uint64_t key, std::uint64_t stream, std::uint64_t j) {
  return stream_block(key, stream, j / 2)[j % 2];
}

// Uniform on [0, 1) from one 64-bit word: its top 53 bits (double) or top 24 bits (float), one significand's
// worth, so every value is exact and equally likely: (x >> 11) * 2^-53 and (x >> 40) * 2^-24.
template <class T>
constexpr T unit_interval(std::uint64_t x);
template <>
constexpr double unit_interval<double>(std::uint64_t x) {
  return double(x >> 11) * 0x1.0p-53;
}
template <>
constexpr float unit_interval<float>(std::uint64_t x) {
  return float(std::uint32_t(x >> 40)) * 0x1.0p-24f;
}

// v, forced to be rounded to T here. Between a product and a sum it stops the compiler from contracting the
// two into one fused multiply-add: GCC does that by default in C++ (-ffp-contract=fast) where the target has
// FMA, which is the AVX2 and AVX-512 builds but not the SSE2 baseline, and the results must not depend on the
// target. The empty asm costs nothing; it only makes the value opaque.
template <class T>
T rounded(T v) {
  asm("" : "+x"(v));
  return v;
}

// lo + (hi - lo) u with u = unit_interval(x), each operation rounded once. In [lo, hi]: hi is reached only
// through rounding, never for [0, 1) or [-1, 1), where the arithmetic is exact.
template <class T>
T uniform(std::uint64_t x, T lo, T hi) {
  return lo + rounded((hi - lo) * unit_interval<T>(x));
}

}  // namespace
}  // namespace tapelab::kernels::philox
