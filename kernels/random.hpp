#pragma once
// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11; Random123), vectorised.
//
// A counter-based generator is a keyed bijection of a counter, so value j of a stream is computed from
// (key, stream, j) alone: any thread can produce any part of any stream (network s, layer k) in any order,
// and the numbers do not depend on the thread count or the dispatch target.
//
// The stream contract (stable and platform-independent; kernels/philox.hpp is its executable form):
//   value j (j = 0, 1, 2, ...) of stream `stream` under `key` comes from block b = j / 2, computed as
//     (w0, w1, w2, w3) = philox4x32_10(counter = {lo32(b), hi32(b), lo32(stream), hi32(stream)},
//                                      key     = {lo32(key), hi32(key)})
//   j even -> (w1 << 32) | w0,   j odd -> (w3 << 32) | w2.
// Indices are 64-bit, so a stream is addressed up to value 2^64 - 1 (blocks below 2^63); first + n must not
// pass 2^64 - 1.
// Uniform variates from value x: u = (x >> 11) 2^-53 (double) or (x >> 40) 2^-24 (float), exact and in
// [0, 1); then lo + (hi - lo) u, each operation rounded once (never fused), so every target gives the same
// bits.
//
// All kernels are bitwise identical on every dispatch target and to reference.hpp, for any thread count.
// Parallel above a size threshold (each thread computes its own part of the stream).
#include <cstdint>

#include "kernels/common.hpp"

namespace tapelab::kernels {

// out[i] = value first + i of the stream, i in [0, n).
void random_bits(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n, std::uint64_t* out);

// out[i] = lo + (hi - lo) u(value first + i), i in [0, n): uniform on [lo, hi) up to rounding (see
// philox.hpp).
template <class T>
void random_uniform(std::uint64_t key, std::uint64_t stream, std::uint64_t first, index_t n, T lo, T hi,
                    T* out);

}  // namespace tapelab::kernels
