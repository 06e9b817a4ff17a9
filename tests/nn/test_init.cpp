// Initialisations: determinism, stated variances, tying, fGn covariance and Hurst recovery, GP smoothness.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "nn/estimators.hpp"
#include "nn/init.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {
namespace {

double sample_variance(const Matrix& m) {
  double s = 0, ss = 0;
  const double n = double(m.rows() * m.cols());
  for (index_t i = 0; i < m.rows() * m.cols(); ++i) s += m.data()[i], ss += m.data()[i] * m.data()[i];
  return ss / n - (s / n) * (s / n);
}

TEST(Rng, SameSeedSameNumbersDifferentSeedDifferentNumbers) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const double x = a.normal();
    EXPECT_EQ(x, b.normal());
    if (i == 0) {
      EXPECT_NE(x, c.normal());
    }
  }
}

TEST(Rng, NormalHasUnitVarianceAndUniformIsInRange) {
  Rng rng(1);
  double s = 0, ss = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    s += x, ss += x * x;
    const double u = rng.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);    // 4.5 standard errors
  EXPECT_NEAR(ss / n, 1.0, 0.015);  // sd of the estimate is sqrt(2/n) = 0.0032
}

TEST(Init, GaussianAndUniformHaveTheStatedVariance) {
  Rng rng(7);
  const Matrix g = gaussian(rng, 300, 300, fan_in_std(300));
  EXPECT_NEAR(sample_variance(g), 1.0 / 300, 0.03 / 300);  // relative sd sqrt(2/90000) = 0.0047
  const Matrix u = uniform(rng, 300, 300, fan_in_uniform_bound(300));
  EXPECT_NEAR(sample_variance(u), 1.0 / 300, 0.03 / 300);
  const Matrix v = uniform_with_variance(rng, 300, 300, 0.25);
  EXPECT_NEAR(sample_variance(v), 0.25, 0.01);
  for (index_t i = 0; i < 300 * 300; ++i) ASSERT_LE(std::abs(u.data()[i]), fan_in_uniform_bound(300));
}

TEST(Init, SameSeedGivesTheSameWeights) {
  Rng a(3), b(3);
  const WeightPath pa = fgn_path(a, 16, 3, 2, 0.7, 1.0), pb = fgn_path(b, 16, 3, 2, 0.7, 1.0);
  for (std::size_t k = 0; k < 16; ++k)
    for (index_t i = 0; i < 6; ++i) ASSERT_EQ(pa[k].data()[i], pb[k].data()[i]);
}

TEST(Init, ZeroTiedAndEmbeddings) {
  Rng rng(5);
  const WeightPath tied = tied_gaussian_path(rng, 5, 4, 3, 1.0);
  for (std::size_t k = 1; k < 5; ++k)
    for (index_t i = 0; i < 12; ++i) ASSERT_EQ(tied[k].data()[i], tied[0].data()[i]);
  const WeightPath zero = zero_path(3, 2, 2);
  for (const Matrix& m : zero)
    for (index_t i = 0; i < 4; ++i) ASSERT_EQ(m.data()[i], 0.0);
  const Matrix a = input_embedding_identity(5, 3), b = output_embedding_identity(2, 5);
  EXPECT_EQ(a(2, 2), 1.0);
  EXPECT_EQ(a(3, 0), 0.0);
  EXPECT_EQ(b(0, 3), 1.0);  // B = (0, I_d')
  EXPECT_EQ(b(1, 4), 1.0);
  EXPECT_EQ(b(0, 0), 0.0);
  EXPECT_THROW(input_embedding_identity(2, 3), std::invalid_argument);
}

TEST(Init, FgnAutocovarianceMatchesClosedForm) {
  const auto g = fgn_autocovariance(4, 0.5);
  EXPECT_DOUBLE_EQ(g[0], 1.0);
  EXPECT_NEAR(g[1], 0.0, 1e-15);  // H = 1/2: white noise
  const auto g8 = fgn_autocovariance(3, 0.8);
  EXPECT_NEAR(g8[1], 0.5 * (std::pow(2.0, 1.6) - 2.0), 1e-15);
  EXPECT_THROW(fgn_autocovariance(3, 1.0), std::invalid_argument);
}

TEST(Init, FgnIsExactlyTheCholeskyFactorOfTheToeplitzCovarianceTimesTheNormals) {
  // x = C z with C C^T = [gamma(|i - j|)] (dense Cholesky here) and z the same seeded normals, in order.
  const std::size_t n = 64;
  for (double hurst : {0.2, 0.8}) {
    Rng a(5), b(5);
    const std::vector<double> x = sample_fgn(a, n, hurst);
    const std::vector<double> gamma = fgn_autocovariance(n, hurst);
    std::vector<double> c(n * n, 0.0), z(n);
    for (std::size_t j = 0; j < n; ++j) {
      double d = gamma[0];
      for (std::size_t k = 0; k < j; ++k) d -= c[j * n + k] * c[j * n + k];
      c[j * n + j] = std::sqrt(d);
      for (std::size_t i = j + 1; i < n; ++i) {
        double s = gamma[i - j];
        for (std::size_t k = 0; k < j; ++k) s -= c[i * n + k] * c[j * n + k];
        c[i * n + j] = s / c[j * n + j];
      }
    }
    for (double& v : z) v = b.normal();
    for (std::size_t i = 0; i < n; ++i) {
      double expected = 0.0;
      for (std::size_t k = 0; k <= i; ++k) expected += c[i * n + k] * z[k];
      EXPECT_NEAR(x[i], expected, 1e-10) << "H = " << hurst << ", k = " << i;
    }
  }
}

TEST(Init, FgnLagOneCorrelationMatchesTheory) {
  // Over many short sequences the empirical lag-1 correlation is gamma(1) = 2^{2H-1} - 1.
  Rng rng(11);
  for (double hurst : {0.2, 0.8}) {
    const WeightPath p = fgn_path(rng, 8, 100, 100, hurst, 1.0);
    double c0 = 0, c1 = 0;
    for (index_t i = 0; i < 10000; ++i)
      for (std::size_t k = 0; k + 1 < 8; ++k) {
        c0 += p[k].data()[i] * p[k].data()[i];
        c1 += p[k].data()[i] * p[k + 1].data()[i];
      }
    EXPECT_NEAR(c1 / c0, std::pow(2.0, 2 * hurst - 1) - 1, 0.02) << "H = " << hurst;
  }
}

TEST(Init, FgnCumulativePathRecoversHurstWithin005) {
  // papers.md 6.5/6.8: the cumulative fGn path has Hölder exponent H; average over 4 seeds of length 4096.
  for (double hurst : {0.2, 0.5, 0.8}) {
    double mean = 0.0;
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
      Rng rng(100 + seed);
      const DiscretePath path = DiscretePath::cumulative(DiscretePath::scalar(sample_fgn(rng, 4096, hurst)));
      mean += holder_exponent(path, 64).exponent / 4.0;
    }
    EXPECT_NEAR(mean, hurst, 0.05) << "H = " << hurst;
  }
}

TEST(Init, GpPathsAreSmoothBelowTheLengthScale) {
  // Scales h/L <= 8/400 = 0.02 are well below the length-scale 0.1: the sample is C^1 there, exponent ~1.
  Rng rng(21);
  std::vector<double> s(400);
  for (std::size_t k = 0; k < s.size(); ++k) s[k] = double(k) / 400.0;
  double mean = 0.0;
  for (int r = 0; r < 3; ++r)
    mean += holder_exponent(DiscretePath::scalar(sample_gp_rbf(rng, s, 0.1)), 8).exponent / 3;
  EXPECT_GT(mean, 0.95);
  // ... and the path's variance is the kernel's: entries of gp_rbf_path at std 2 have variance ~4.
  const WeightPath p = gp_rbf_path(rng, 20, 30, 30, 0.1, 2.0);
  EXPECT_NEAR(sample_variance(p[10]), 4.0, 0.6);
  EXPECT_THROW(sample_gp_rbf(rng, s, 0.0), std::invalid_argument);
}

TEST(Init, GpIncrementPathIsNormalisedAsInP5) {
  Rng rng(9);
  const WeightPath p = gp_rbf_increment_path(rng, 50, 10, 10, 0.1, 10);
  double mean_std = 0.0;
  for (const Matrix& m : p) mean_std += std::sqrt(sample_variance(m)) / 50.0;
  EXPECT_NEAR(mean_std, 1.0 / std::sqrt(10.0), 1e-9);
}

}  // namespace
}  // namespace tapelab::nn
