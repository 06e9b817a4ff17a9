// Rng on Philox streams: seeds map to unrelated keys, next_u64 reads the stream in order, the bulk draws
// equal the same number of scalar calls bit for bit (from any position, with or without a cached normal), and
// position/seek address the stream.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/philox.hpp"
#include "kernels/target.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {
namespace {

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

TEST(Rng, KeyIsSplitMix64OfTheSeed) {
  // SplitMix64 seeded with 0: first output 0xe220a8397b1dcdaf (Vigna's splitmix64.c).
  EXPECT_EQ(Rng(0).key(), 0xE220A8397B1DCDAFu);
  EXPECT_NE(Rng(1).key(), Rng(2).key());
  EXPECT_EQ(Rng(1, 5).stream(), 5u);
  EXPECT_EQ(Rng(1, 5).key(), Rng(1).key());
}

TEST(Rng, NextU64ReadsTheStreamInOrder) {
  Rng rng(3, 7);
  for (std::uint64_t j = 0; j < 100; ++j) {
    ASSERT_EQ(rng.position(), j);
    ASSERT_EQ(rng.next_u64(), kernels::philox::stream_value(rng.key(), 7, j)) << "value " << j;
  }
}

TEST(Rng, SeedsAndStreamsGiveDifferentNumbers) {
  Rng a(1), b(2), c(1, 1);
  const std::uint64_t x = a.next_u64();
  EXPECT_NE(x, b.next_u64());
  EXPECT_NE(x, c.next_u64());
}

TEST(Rng, FillUniformEqualsSuccessiveUniformCallsFromAnyPosition) {
  for (int skip : {0, 1, 3, 16, 17})  // odd counts start the bulk draw mid-block
    for (std::size_t n : {1, 2, 3, 17, 33, 1000}) {
      Rng bulk(11), scalar(11);
      for (int i = 0; i < skip; ++i) bulk.uniform01(), scalar.uniform01();
      std::vector<double> got(n), want(n);
      bulk.fill_uniform(got, -0.3, 1.7);
      for (double& x : want) x = scalar.uniform(-0.3, 1.7);
      EXPECT_TRUE(bitwise_equal(got, want)) << "skip " << skip << ", n " << n;
      EXPECT_EQ(bulk.position(), scalar.position());
      EXPECT_EQ(bulk.next_u64(), scalar.next_u64()) << "skip " << skip << ", n " << n;
    }
}

TEST(Rng, FillUniformIsTheSameOnEveryDispatchTarget) {
  std::vector<double> first(333);
  Rng(5).fill_uniform(first, -1.0, 1.0);
  const kernels::Target saved = kernels::active_target();
  for (kernels::Target t : kernels::available_targets()) {
    kernels::set_target(t);
    std::vector<double> again(333);
    Rng(5).fill_uniform(again, -1.0, 1.0);
    EXPECT_TRUE(bitwise_equal(first, again)) << kernels::target_name(t);
  }
  kernels::set_target(saved);
}

TEST(Rng, FillNormalEqualsSuccessiveNormalCallsWithOrWithoutACachedVariate) {
  for (int skip : {0, 1, 2, 3})  // odd counts leave a cached second variate
    for (std::size_t n : {1, 2, 3, 255, 256, 257, 1001}) {
      Rng bulk(13), scalar(13);
      for (int i = 0; i < skip; ++i) bulk.normal(), scalar.normal();
      std::vector<double> got(n), want(n);
      bulk.fill_normal(got, 0.5, 2.0);
      for (double& x : want) x = scalar.normal(0.5, 2.0);
      EXPECT_TRUE(bitwise_equal(got, want)) << "skip " << skip << ", n " << n;
      EXPECT_EQ(bulk.position(), scalar.position());
      EXPECT_EQ(bulk.normal(), scalar.normal()) << "skip " << skip << ", n " << n;  // the caches agree
    }
}

TEST(Rng, PositionCountsStreamValuesAndSeekReturnsToThem) {
  Rng rng(17);
  rng.uniform01();
  EXPECT_EQ(rng.position(), 1u);
  rng.normal();  // a pair: two values, one variate cached
  EXPECT_EQ(rng.position(), 3u);
  rng.normal();  // from the cache
  EXPECT_EQ(rng.position(), 3u);

  std::vector<double> ahead(40);
  rng.fill_uniform(ahead, 0.0, 1.0);
  rng.seek(3);
  for (double x : ahead) ASSERT_EQ(rng.uniform01(), x);

  // Far away (blocks past 2^32) and back.
  rng.seek(std::uint64_t(1) << 40);
  EXPECT_EQ(rng.next_u64(), kernels::philox::stream_value(rng.key(), 0, std::uint64_t(1) << 40));
  rng.seek(0);
  EXPECT_EQ(rng.next_u64(), kernels::philox::stream_value(rng.key(), 0, 0));
}

TEST(Rng, SeekDropsACachedNormal) {
  Rng a(19), b(19);
  a.normal();  // caches the second variate of the pair at values 0, 1
  a.seek(2);
  b.seek(2);
  EXPECT_EQ(a.normal(), b.normal());  // both start a fresh pair at value 2
}

}  // namespace
}  // namespace tapelab::nn
