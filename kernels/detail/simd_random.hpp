#pragma once
// Philox4x32-10 (kernels/philox.hpp is the specification) on W = 2, 4 or 8 blocks at once, one block per
// 64-bit lane: each 32-bit counter word sits in the low half of a 64-bit lane, so that one PMULUDQ gives the
// full 32x32 -> 64-bit product a Philox round needs (xsimd 8.1 has no such multiply; `mul_lo32` is the one
// per-architecture intrinsic). Nothing clears the high halves, which fill with junk through the rounds: they
// only ever meet XOR and the multiply, which reads the low halves, and the output masks them off.
//
// A chunk is W blocks = 2W stream values. Throughput: a round is a chain of dependent multiplies (several
// cycles of latency each), so `philox_chunks` runs U independent chunks interleaved to keep the multiplier
// busy. A round costs 6 vector instructions per chunk (2 multiplies, 2 shifts, 2 three-way XORs, which
// AVX-512 does in one VPTERNLOG).
//
// Output order: block b gives values 2b, 2b + 1. xsimd's zip_lo/zip_hi interleave within 128-bit lanes
// (PUNPCKLQDQ), so for 64-bit outputs lane 2p + h of a chunk computes block h W/2 + p: zip_lo(even, odd) then
// holds blocks 0 .. W/2 - 1 in order and zip_hi the rest, with no further shuffle. For float a whole chunk
// packs into one 32-bit batch (even value in the low half of a lane, odd in the high half), lane l = block l.
//
// Tails: a chunk that would cross either end of [first, first + n) is computed whole into a stack buffer and
// the part inside is copied out, so every value takes the same vector formula.
//
// Everything here is templated on Arch and lives in an unnamed namespace (see scalar_math.hpp for why).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/common.hpp"
#include "kernels/detail/parallel.hpp"
#include "kernels/detail/simd_util.hpp"
#include "kernels/philox.hpp"

namespace tapelab::kernels::detail {
namespace {

template <class Arch>
using U64 = xsimd::batch<std::uint64_t, Arch>;

// Per 64-bit lane: (low 32 bits of a) * (low 32 bits of b), the full 64-bit product.
template <class Arch>
U64<Arch> mul_lo32(const U64<Arch>& a, const U64<Arch>& b) {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    return _mm512_mul_epu32(a, b);
  } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    return _mm256_mul_epu32(a, b);
  } else {
    static_assert(std::is_base_of_v<xsimd::sse2, Arch>,
                  "mul_lo32: no 32x32->64 multiply for this architecture");
    return _mm_mul_epu32(a, b);
  }
}

// v, forced to be rounded here (the vector form of philox::rounded: keeps a product and a following sum from
// being fused into one FMA on the targets that have it).
template <class B>
B rounded_batch(const B& v) {
  typename B::register_type r = v;
  asm("" : "+v"(r));
  return B(r);
}

// Independent chunks per loop trip: AVX-512 has 32 vector registers (4 chunks of 4 state words plus
// temporaries fit), AVX2 and SSE2 have 16. On AVX-512, U = 4 measured best: 2 and 3 were about 15% and 8%
// slower, 8 spilled and was twice as slow.
template <class Arch>
constexpr int kPhiloxInterleave = std::is_base_of_v<xsimd::avx512f, Arch> ? 4 : 2;

// The ten round keys, zero-extended to 64 bits: round r uses key + r * (Weyl constants), mod 2^32 per word.
struct RoundKeys {
  std::uint64_t k0[philox::kRounds], k1[philox::kRounds];
};

inline RoundKeys round_keys(std::uint64_t key) {
  RoundKeys rk{};
  std::uint32_t k0 = philox::lo32(key), k1 = philox::hi32(key);
  for (int r = 0; r < philox::kRounds; ++r) {
    rk.k0[r] = k0;
    rk.k1[r] = k1;
    k0 += philox::kWeyl0;
    k1 += philox::kWeyl1;
  }
  return rk;
}

// Block offset of each lane within a chunk: identity, or the zip order described at the top.
template <class Arch>
U64<Arch> lane_blocks(bool zipped) {
  constexpr std::size_t W = U64<Arch>::size;
  alignas(64) std::uint64_t offset[W];
  for (std::size_t l = 0; l < W; ++l) offset[l] = zipped ? (l % 2) * (W / 2) + l / 2 : l;
  return U64<Arch>::load_aligned(offset);
}

// Philox on U chunks: chunk u, lane l runs block block0 + u W + offsets[l]. Leaves the output words
// (w0, w1, w2, w3) in the low halves of c0 .. c3.
template <class Arch, int U>
[[gnu::always_inline]] inline void philox_chunks(const RoundKeys& rk, std::uint64_t stream,
                                                 std::uint64_t block0, const U64<Arch>& offsets,
                                                 U64<Arch> (&c0)[U], U64<Arch> (&c1)[U], U64<Arch> (&c2)[U],
                                                 U64<Arch> (&c3)[U]) {
  using V = U64<Arch>;
  constexpr std::uint64_t W = V::size;
  const V m0(philox::kMultiplier0), m1(philox::kMultiplier1);
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const V block = V(block0 + std::uint64_t(u) * W) + offsets;  // 64-bit add: the carry reaches hi32(b)
    c0[u] = block;                                               // only its low half is ever read
    c1[u] = block >> 32;
    c2[u] = V(stream);  // only the low half is read
    c3[u] = V(stream >> 32);
  }
#pragma GCC unroll 10
  for (int r = 0; r < philox::kRounds; ++r) {
    const V k0(rk.k0[r]), k1(rk.k1[r]);
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const V p0 = mul_lo32<Arch>(c0[u], m0);
      const V p1 = mul_lo32<Arch>(c2[u], m1);
      c0[u] = (p1 >> 32) ^ c1[u] ^ k0;
      c1[u] = p1;  // lo32(p1), junk above
      c2[u] = (p0 >> 32) ^ c3[u] ^ k1;
      c3[u] = p0;  // lo32(p0), junk above
    }
  }
}

// Stream values 2b (even) and 2b + 1 (odd) of each lane's block b.
template <class Arch>
void stream_values(const U64<Arch>& c0, const U64<Arch>& c1, const U64<Arch>& c2, const U64<Arch>& c3,
                   U64<Arch>& even, U64<Arch>& odd) {
  const U64<Arch> low(0xFFFFFFFFu);
  even = (c1 << 32) | (c0 & low);
  odd = (c3 << 32) | (c2 & low);
}

// (x >> 11) 2^-53 exactly, per lane, for x = (hi << 32) | lo given as the low halves of two lanes (junk
// above), with integer and add/sub operations only (AVX-512F has no 64-bit integer to double conversion; that
// is AVX512DQ). With m = lo >> 11 < 2^21, x >> 11 = hi 2^21 + m; place hi and m in the significands of
// doubles with suitable exponents:
//   bits(2^20) | hi = 2^20 + hi 2^-32,   bits(2^-1) | m = 2^-1 + m 2^-53,
// so (first - (2^20 + 2^-1)) + second = hi 2^-32 + m 2^-53 = (x >> 11) 2^-53. Both steps are exact: each
// result is a multiple of 2^-32 in [-1/2, 1/2), or of 2^-53 in [0, 1).
template <class Arch>
xsimd::batch<double, Arch> unit_interval_f64(const U64<Arch>& hi, const U64<Arch>& lo) {
  using D = xsimd::batch<double, Arch>;
  const D hi_d =
      xsimd::bitwise_cast<D>((hi & U64<Arch>(0xFFFFFFFFu)) | U64<Arch>(0x4130000000000000u));  // 2^20
  const D lo_d =
      xsimd::bitwise_cast<D>(((lo >> 11) & U64<Arch>(0x1FFFFFu)) | U64<Arch>(0x3FE0000000000000u));  // 2^-1
  return (hi_d - D(0x1.0p20 + 0x1.0p-1)) + lo_d;
}

// The three outputs. Each turns one chunk's state into 2W values at p.
template <class Arch>
struct EmitBits {
  using value_type = std::uint64_t;
  static constexpr bool kZipped = true;
  void operator()(const U64<Arch>& c0, const U64<Arch>& c1, const U64<Arch>& c2, const U64<Arch>& c3,
                  std::uint64_t* p) const {
    U64<Arch> even, odd;
    stream_values<Arch>(c0, c1, c2, c3, even, odd);
    xsimd::zip_lo(even, odd).store_unaligned(p);
    xsimd::zip_hi(even, odd).store_unaligned(p + U64<Arch>::size);
  }
};

template <class Arch, class T>
struct EmitUniform;

template <class Arch>
struct EmitUniform<Arch, double> {
  using value_type = double;
  using D = xsimd::batch<double, Arch>;
  static constexpr bool kZipped = true;
  D lo, range;
  void operator()(const U64<Arch>& c0, const U64<Arch>& c1, const U64<Arch>& c2, const U64<Arch>& c3,
                  double* p) const {
    const D e = lo + rounded_batch(range * unit_interval_f64<Arch>(c1, c0));  // value 2b = (w1 << 32) | w0
    const D o =
        lo + rounded_batch(range * unit_interval_f64<Arch>(c3, c2));  // value 2b + 1 = (w3 << 32) | w2
    xsimd::zip_lo(e, o).store_unaligned(p);
    xsimd::zip_hi(e, o).store_unaligned(p + D::size);
  }
};

template <class Arch>
struct EmitUniform<Arch, float> {
  using value_type = float;
  using F = xsimd::batch<float, Arch>;
  static constexpr bool kZipped = false;
  F lo, range;
  // Only w1 and w3 matter: x >> 40 keeps the top 24 bits of each value, and those come from its high word.
  void operator()(const U64<Arch>& /*c0*/, const U64<Arch>& c1, const U64<Arch>& /*c2*/, const U64<Arch>& c3,
                  float* p) const {
    // even >> 40 = w1 >> 8 into the low half of each lane, odd >> 40 = w3 >> 8 into the high half: the lanes,
    // read as 32-bit integers, are then the 24-bit values in stream order.
    const U64<Arch> even24 = (c1 << 32) >> 40;
    const U64<Arch> odd24 = (c3 << 24) & U64<Arch>(0x00FFFFFF00000000u);
    const auto v = xsimd::bitwise_cast<xsimd::batch<std::int32_t, Arch>>(even24 | odd24);
    const F u = xsimd::batch_cast<float>(v) * F(0x1.0p-24f);  // exact: v < 2^24
    (lo + rounded_batch(range * u)).store_unaligned(p);
  }
};

// Writes stream values [first, first + n) through `emit` to out[0 .. n). Serial.
template <class Arch, class Emit>
void philox_span(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n,
                 typename Emit::value_type* out, const Emit& emit) {
  using V = U64<Arch>;
  using T = typename Emit::value_type;
  constexpr int U = kPhiloxInterleave<Arch>;
  constexpr std::uint64_t C = 2 * V::size;  // values per chunk
  const RoundKeys rk = round_keys(key);
  const V offsets = lane_blocks<Arch>(Emit::kZipped);
  const std::uint64_t end = first + std::uint64_t(n);

  // The chunk starting at even value j0, whole, into a buffer; values [j0 + skip, j0 + skip + count) copied
  // out.
  const auto partial = [&](std::uint64_t j0, std::uint64_t skip, std::uint64_t count) {
    V c0[1], c1[1], c2[1], c3[1];
    philox_chunks<Arch, 1>(rk, stream, j0 / 2, offsets, c0, c1, c2, c3);
    alignas(64) T buf[C];
    emit(c0[0], c1[0], c2[0], c3[0], buf);
    std::memcpy(out + (j0 + skip - first), buf + skip, count * sizeof(T));
  };

  std::uint64_t j = first;
  if (n > 0 && j % 2 == 1) {  // starts mid-block
    const std::uint64_t count = end - j < C - 1 ? end - j : C - 1;
    partial(j - 1, 1, count);
    j += count;
  }
  for (; end - j >= U * C; j += U * C) {
    V c0[U], c1[U], c2[U], c3[U];
    philox_chunks<Arch, U>(rk, stream, j / 2, offsets, c0, c1, c2, c3);
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) emit(c0[u], c1[u], c2[u], c3[u], out + (j - first) + std::uint64_t(u) * C);
  }
  for (; end - j >= C; j += C) {
    V c0[1], c1[1], c2[1], c3[1];
    philox_chunks<Arch, 1>(rk, stream, j / 2, offsets, c0, c1, c2, c3);
    emit(c0[0], c1[0], c2[0], c3[0], out + (j - first));
  }
  if (j < end) partial(j, 0, end - j);
}

// philox_span over [first, first + n), cut into kFlatBlock pieces spread over threads when n is large. Each
// piece is a fixed part of the stream, so the result does not depend on the thread count.
template <class Arch, class Emit>
void philox_fill(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n,
                 typename Emit::value_type* out, const Emit& emit) {
  const index_t pieces = (n + kFlatBlock - 1) / kFlatBlock;
  if (n >= kParallelElements && pieces > 1) {
#pragma omp parallel for schedule(static)
    for (index_t b = 0; b < pieces; ++b) {
      const index_t j0 = b * kFlatBlock;
      philox_span<Arch>(key, stream, first + std::uint64_t(j0), n - j0 < kFlatBlock ? n - j0 : kFlatBlock,
                        out + j0, emit);
    }
  } else {
    philox_span<Arch>(key, stream, first, n, out, emit);
  }
}

template <class Arch>
void simd_random_bits(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n,
                      std::uint64_t* out) {
  philox_fill<Arch>(key, stream, first, n, out, EmitBits<Arch>{});
}

template <class Arch, class T>
void simd_random_uniform(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n, T lo, T hi,
                         T* out) {
  using B = xsimd::batch<T, Arch>;
  philox_fill<Arch>(key, stream, first, n, out, EmitUniform<Arch, T>{B(lo), B(hi - lo)});
}

}  // namespace
}  // namespace tapelab::kernels::detail
