// Philox4x32-10 streams: the scalar generator against Random123's known answers, then every kernel on every
// dispatch target against the scalar reference, bit for bit, on odd lengths and starts (mid-block, and across
// the carry from the low to the high word of the block counter), for any thread count; and the uniform
// variates' range, mean and variance.
//
// Known answers: Random123's tests/kat_vectors, "philox4x32 10" lines, as copied into Random123-Boost
// (github.com/DEShawResearch/Random123-Boost, libs/random/test/test_philox.cpp, test_kat_philox4x32).
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/philox.hpp"
#include "kernels/random.hpp"
#include "kernels/reference.hpp"
#include "kernels/target.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace tapelab::kernels {
namespace {

using testing::TargetScope;
using testing::ThreadScope;

struct KnownAnswer {
  philox::Counter counter;
  philox::Key key;
  philox::Counter expected;
};

constexpr KnownAnswer kKnownAnswers[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

// The generator is constexpr: the first answer is checked at compile time too.
static_assert(philox::philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
              philox::Counter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});

TEST(Random, Philox4x32_10MatchesRandom123KnownAnswers) {
  for (const KnownAnswer& kat : kKnownAnswers) {
    const philox::Counter got = philox::philox4x32_10(kat.counter, kat.key);
    for (int w = 0; w < 4; ++w)
      EXPECT_EQ(got[w], kat.expected[w]) << "counter word 0 " << kat.counter[0] << ", word " << w;
  }
}

TEST(Random, StreamMappingPacksTheKnownAnswersIntoWords) {
  // Block b, stream s, key k are the counter and key words, low word first (random.hpp).
  for (const KnownAnswer& kat : kKnownAnswers) {
    const auto join = [](std::uint32_t lo, std::uint32_t hi) { return (std::uint64_t(hi) << 32) | lo; };
    const auto values =
        philox::stream_block(join(kat.key[0], kat.key[1]), join(kat.counter[2], kat.counter[3]),
                             join(kat.counter[0], kat.counter[1]));
    EXPECT_EQ(values[0], join(kat.expected[0], kat.expected[1]));
    EXPECT_EQ(values[1], join(kat.expected[2], kat.expected[3]));
  }
}

TEST(Random, EveryTargetGivesTheKnownAnswerForKeyZero) {
  for (Target t : available_targets()) {
    TargetScope scope(t);
    std::uint64_t out[2];
    random_bits(0, 0, 0, 2, out);
    EXPECT_EQ(out[0], 0xe169c58d6627e8d5u) << testing::target_label(t);
    EXPECT_EQ(out[1], 0x9b00dbd8bc57ac4cu) << testing::target_label(t);
  }
}

const std::vector<index_t> kLengths = {0, 1, 2, 3, 7, 17, 33, 257, 1000};
// Odd starts begin mid-block. 2^32 - 1 is value index 2^32 - 1 (block 2^31 - 1); 2^33 - 5 starts at block
// 2^32 - 3, so its blocks cross from lo32(b) = 0xffffffff to hi32(b) = 1.
const std::vector<std::uint64_t> kFirsts = {0, 1, 5, (std::uint64_t(1) << 32) - 1,
                                            (std::uint64_t(1) << 33) - 5};
constexpr std::uint64_t kKey = 0x0123456789abcdefu, kStream = 0xfedcba9876543210u;

// out[0 .. n) between sentinels, starting one element past an aligned allocation (unaligned stores).
template <class T>
struct Guarded {
  static constexpr T sentinel() { return T(0x5a5a5a5a); }
  std::vector<T> buf;
  explicit Guarded(index_t n) : buf(std::size_t(n) + 8, sentinel()) {}
  T* data() { return buf.data() + 1; }
  bool guards_intact(index_t n) const {
    if (buf[0] != sentinel()) return false;
    for (std::size_t i = std::size_t(n) + 1; i < buf.size(); ++i)
      if (buf[i] != sentinel()) return false;
    return true;
  }
};

template <class T>
bool bitwise_equal(const T* a, const T* b, index_t n) {
  return n == 0 || std::memcmp(a, b, std::size_t(n) * sizeof(T)) == 0;
}

TEST(Random, BitsMatchReferenceOnEveryTargetOddLengthsAndStarts) {
  for (Target t : available_targets()) {
    TargetScope scope(t);
    for (std::uint64_t first : kFirsts)
      for (index_t n : kLengths) {
        Guarded<std::uint64_t> got(n), want(n);
        random_bits(kKey, kStream, first, n, got.data());
        reference::random_bits(kKey, kStream, first, n, want.data());
        EXPECT_TRUE(bitwise_equal(got.data(), want.data(), n))
            << testing::target_label(t) << " first=" << first << " n=" << n;
        EXPECT_TRUE(got.guards_intact(n)) << testing::target_label(t) << " first=" << first << " n=" << n;
      }
  }
}

TEST(Random, BlockCounterCarriesIntoItsHighWord) {
  // Value 2^33 is block 2^32: counter words {0, 1, ...}, not {0, 0, ...}.
  const std::uint64_t j = std::uint64_t(1) << 33;
  EXPECT_EQ(philox::stream_value(kKey, kStream, j),
            philox::stream_block(kKey, kStream, std::uint64_t(1) << 32)[0]);
  EXPECT_NE(philox::stream_value(kKey, kStream, j), philox::stream_value(kKey, kStream, 0));
}

template <class T>
class RandomUniform : public ::testing::Test {};
TYPED_TEST_SUITE(RandomUniform, testing::ScalarTypes);

TYPED_TEST(RandomUniform, MatchesReferenceBitwiseOnEveryTargetOddLengthsAndStarts) {
  using T = TypeParam;
  // [-1, 1) is exact arithmetic; [-0.3, 1.7) rounds, which is where a fused multiply-add would differ.
  const T ranges[][2] = {{T(0), T(1)}, {T(-1), T(1)}, {T(-0.3), T(1.7)}};
  for (Target t : available_targets()) {
    TargetScope scope(t);
    for (const auto& range : ranges)
      for (std::uint64_t first : kFirsts)
        for (index_t n : kLengths) {
          Guarded<T> got(n), want(n);
          random_uniform<T>(kKey, kStream, first, n, range[0], range[1], got.data());
          reference::random_uniform<T>(kKey, kStream, first, n, range[0], range[1], want.data());
          EXPECT_TRUE(bitwise_equal(got.data(), want.data(), n))
              << testing::target_label(t) << " range [" << range[0] << ", " << range[1] << ") first=" << first
              << " n=" << n;
          EXPECT_TRUE(got.guards_intact(n)) << testing::target_label(t) << " first=" << first << " n=" << n;
        }
  }
}

TYPED_TEST(RandomUniform, IsBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  const index_t n = 300001;  // above the parallel threshold, not a multiple of any block size
  std::vector<T> want(std::size_t(n), T(0));
  reference::random_uniform<T>(kKey, kStream, 3, n, T(-2), T(5), want.data());
  for (Target t : available_targets()) {
    TargetScope target(t);
    for (int threads : {1, 2, 3}) {
      ThreadScope scope(threads);
      std::vector<T> got(std::size_t(n), T(0));
      random_uniform<T>(kKey, kStream, 3, n, T(-2), T(5), got.data());
      EXPECT_TRUE(bitwise_equal(got.data(), want.data(), n))
          << testing::target_label(t) << " threads=" << threads;
    }
  }
}

TYPED_TEST(RandomUniform, MillionDrawsHaveTheUniformRangeMeanAndVariance) {
  using T = TypeParam;
  const index_t n = 1000000;
  std::vector<T> u(static_cast<std::size_t>(n));
  random_uniform<T>(7, 0, 0, n, T(0), T(1), u.data());
  double sum = 0, sum_sq = 0;
  for (T x : u) {
    ASSERT_GE(x, T(0));
    ASSERT_LT(x, T(1));
    sum += double(x), sum_sq += double(x) * double(x);
  }
  const double mean = sum / double(n), variance = sum_sq / double(n) - mean * mean;
  // U[0, 1): mean 1/2, variance 1/12. Standard errors sqrt(1/12 / n) = 2.9e-4 and sqrt((1/80 - 1/144) / n)
  // = 7.5e-5; the tolerances are 5 of them.
  EXPECT_NEAR(mean, 0.5, 1.5e-3);
  EXPECT_NEAR(variance, 1.0 / 12.0, 3.7e-4);

  // A shifted, scaled range stays inside [lo, hi].
  random_uniform<T>(8, 1, 0, n, T(-3), T(5), u.data());
  for (T x : u) {
    ASSERT_GE(x, T(-3));
    ASSERT_LE(x, T(5));
  }
}

TEST(Random, PiecesComputedInAnyOrderEqualTheWhole) {
  // The counter-based contract: any part of a stream can be computed on its own.
  const index_t n = 999;
  std::vector<std::uint64_t> whole(n), pieces(n);
  random_bits(kKey, kStream, 11, n, whole.data());
  const index_t cuts[] = {0, 1, 4, 37, 38, 500, 998, n};
  for (int c = int(std::size(cuts)) - 2; c >= 0; --c)  // last piece first
    random_bits(kKey, kStream, 11 + std::uint64_t(cuts[c]), cuts[c + 1] - cuts[c], pieces.data() + cuts[c]);
  EXPECT_EQ(whole, pieces);
}

TEST(Random, DifferentKeysAndStreamsGiveDifferentNumbers) {
  std::uint64_t a[4], b[4], c[4];
  random_bits(1, 0, 0, 4, a);
  random_bits(2, 0, 0, 4, b);
  random_bits(1, 1, 0, 4, c);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(a[i], b[i]);
    EXPECT_NE(a[i], c[i]);
  }
}

}  // namespace
}  // namespace tapelab::kernels
