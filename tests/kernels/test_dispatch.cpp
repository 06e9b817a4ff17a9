// Dispatch: every target the CPU has can be selected, names round-trip, bad names are refused. The machine's
// last-level cache size (cache_size.hpp).
#include <gtest/gtest.h>

#include <stdexcept>

#include "kernels/kernels.hpp"

namespace tapelab::kernels {
namespace {

TEST(Dispatch, GenericIsAlwaysAvailable) {
  const auto targets = available_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.front(), Target::generic);
}

TEST(Dispatch, TargetNamesRoundTrip) {
  for (Target t : {Target::generic, Target::avx2, Target::avx512}) {
    Target parsed;
    ASSERT_TRUE(parse_target(target_name(t), parsed));
    EXPECT_EQ(parsed, t);
  }
  Target unused;
  EXPECT_FALSE(parse_target("sse9", unused));
}

TEST(Dispatch, EveryAvailableTargetCanBeSelected) {
  const Target saved = active_target();
  for (Target t : available_targets()) {
    set_target(t);
    EXPECT_EQ(active_target(), t);
    // A tiny GEMM through the selected table gives the right answer.
    const double A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    double C[4];
    gemm<double>(Trans::N, Trans::N, 2, 2, 2, 1.0, A, 2, B, 2, 0.0, C, 2);
    EXPECT_EQ(C[0], 19.0);
    EXPECT_EQ(C[3], 50.0);
  }
  set_target(saved);
}

TEST(Dispatch, UnavailableTargetIsRefusedWithMessage) {
  const auto targets = available_targets();
  if (targets.back() == Target::avx512) GTEST_SKIP() << "this CPU has every target";
  try {
    set_target(Target::avx512);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("avx512"), std::string::npos);
  }
}

TEST(Dispatch, ActivationNamesRoundTrip) {
  for (Activation a : kAllActivations) {
    Activation parsed;
    ASSERT_TRUE(parse_activation(activation_name(a), parsed));
    EXPECT_EQ(parsed, a);
  }
  Activation unused;
  EXPECT_FALSE(parse_activation("swish", unused));
}

TEST(CacheSize, SysfsSizesParse) {
  EXPECT_EQ(detail::parse_cache_size("32768K\n"), std::size_t(32) << 20);
  EXPECT_EQ(detail::parse_cache_size("1M"), std::size_t(1) << 20);
  EXPECT_EQ(detail::parse_cache_size("2G"), std::size_t(2) << 30);
  EXPECT_EQ(detail::parse_cache_size("512"), std::size_t(512));
  for (const char* bad : {"", "K", "32768KB", "-1K", "12.5M", "99999999999999999999K"})
    EXPECT_EQ(detail::parse_cache_size(bad), std::size_t(0)) << bad;
}

TEST(CacheSize, LastLevelIsUnknownOrAtLeast64KB) {
  // 0 where sysfs does not say; otherwise the largest data or unified level: no x86-64 CPU's is under 64 KB.
  const std::size_t bytes = last_level_cache_bytes();
  if (bytes == 0) GTEST_SKIP() << "sysfs gives no cache sizes here";
  EXPECT_GE(bytes, std::size_t(64) << 10);
  EXPECT_EQ(bytes, last_level_cache_bytes());  // read once
}

}  // namespace
}  // namespace tapelab::kernels
