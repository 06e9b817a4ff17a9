// Estimators on paths whose answer is known (papers.md section 6).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "nn/estimators.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {
namespace {

TEST(PVariation, MonotoneScalarPathEqualsTotalIncreaseForEveryP) {
  Rng rng(1);
  std::vector<double> x{0.0};
  for (int k = 0; k < 200; ++k) x.push_back(x.back() + rng.uniform01());
  const double total = x.back() - x.front();
  for (double p : {1.0, 1.5, 2.0, 3.0, 7.0})
    EXPECT_NEAR(p_variation(DiscretePath::scalar(x), p), total, 1e-9 * total) << "p = " << p;
}

TEST(PVariation, StraightSegmentHasOneVariationEqualToItsLength) {
  DiscretePath seg;
  seg.dim = 3;
  const int n = 50;
  for (int k = 0; k < n; ++k) {
    const double t = double(k) / (n - 1);
    seg.values.insert(seg.values.end(), {1 + 2 * t, -1 + 3 * t, 6 * t});
  }
  EXPECT_NEAR(p_variation(seg, 1.0), 7.0, 1e-12);  // |(2, 3, 6)| = 7
}

TEST(PVariation, ZigZagPicksTheBestPartition) {
  // 0, 1, 0, 1: 1-variation 3; 2-variation: best is all three steps (3) vs one step 0->1 (1): sqrt(3).
  const DiscretePath z = DiscretePath::scalar({0, 1, 0, 1});
  EXPECT_NEAR(p_variation(z, 1.0), 3.0, 1e-15);
  EXPECT_NEAR(p_variation(z, 2.0), std::sqrt(3.0), 1e-15);
  EXPECT_THROW(p_variation(z, 0.5), std::invalid_argument);
}

TEST(QuadraticVariation, BrownianPathOnUnitIntervalIsNearOne) {
  Rng rng(2);
  const int n = 10000;
  std::vector<double> steps(n);
  for (double& s : steps) s = rng.normal() / std::sqrt(double(n));
  const double qv = quadratic_variation(DiscretePath::cumulative(DiscretePath::scalar(steps)));
  EXPECT_NEAR(qv, 1.0, 0.06);  // sd sqrt(2/n) = 0.014
}

TEST(PathStatistics, NormsAndIncrementsOfMatrices) {
  std::vector<Tensor<double>> ws{Tensor<double>{{3, 0}, {0, 4}}, Tensor<double>{{0, 0}, {0, 0}},
                                 Tensor<double>{{1, 0}, {0, 0}}};
  const DiscretePath p = DiscretePath::from_matrices(ws);
  EXPECT_DOUBLE_EQ(max_point_norm(p), 5.0);
  EXPECT_DOUBLE_EQ(max_increment(p), 5.0);
  EXPECT_DOUBLE_EQ(mean_increment(p), 3.0);
  EXPECT_DOUBLE_EQ(root_sum_of_squares(p), std::sqrt(26.0));
  EXPECT_DOUBLE_EQ(quadratic_variation(p), 26.0);
  ws.push_back(Tensor<double>(3, 2));
  EXPECT_THAT([&] { DiscretePath::from_matrices(ws); },
              testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("matrix 3 is 3x2")));
}

TEST(Fits, OlsRecoversAnExactLineAndLogLogAPowerLaw) {
  const std::vector<double> x{1, 2, 4, 8, 16};
  std::vector<double> y;
  for (double v : x) y.push_back(3.0 * std::pow(v, -0.5));
  const LinearFit f = log_log_fit(x, y);
  EXPECT_NEAR(f.slope, -0.5, 1e-12);
  EXPECT_NEAR(std::exp(f.intercept), 3.0, 1e-12);
  EXPECT_NEAR(f.r_squared, 1.0, 1e-12);
  y[2] = -1.0;
  EXPECT_THAT([&] { log_log_fit(x, y); },
              testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("point 2")));
  EXPECT_THROW(ols_fit(std::vector<double>{1, 1}, std::vector<double>{1, 2}), std::invalid_argument);
}

TEST(Holder, BrownianNearHalfSmoothNearOne) {
  Rng rng(3);
  std::vector<double> steps(4096);
  for (double& s : steps) s = rng.normal();
  const HolderEstimate brownian = holder_exponent(DiscretePath::cumulative(DiscretePath::scalar(steps)), 64);
  EXPECT_NEAR(brownian.exponent, 0.5, 0.05);
  EXPECT_GT(brownian.fit.r_squared, 0.95);
  std::vector<double> smooth(1000);
  for (std::size_t k = 0; k < smooth.size(); ++k)
    smooth[k] = std::sin(2 * std::numbers::pi * double(k) / 1000);
  EXPECT_NEAR(holder_exponent(DiscretePath::scalar(smooth), 16).exponent, 1.0, 0.02);
}

TEST(Bootstrap, SlopeCiCoversTheTruthAndShrinksWithoutNoise) {
  Rng rng(4);
  const std::vector<double> x{10, 20, 40, 80, 160};
  std::vector<std::vector<double>> noisy, exact;
  for (int s = 0; s < 20; ++s) {
    std::vector<double> yn, ye;
    for (double v : x) {
      yn.push_back(std::pow(v, -1.0) * std::exp(0.1 * rng.normal()));
      ye.push_back(2.0 * std::pow(v, -1.0));
    }
    noisy.push_back(yn);
    exact.push_back(ye);
  }
  const BootstrapSlope b = log_log_fit_bootstrap(x, noisy, rng, 500);
  EXPECT_LT(b.ci_low, -1.0 + 0.05);
  EXPECT_GT(b.ci_high, -1.0 - 0.05);
  EXPECT_LE(b.ci_low, b.fit.slope);
  EXPECT_GE(b.ci_high, b.fit.slope);
  const BootstrapSlope e = log_log_fit_bootstrap(x, exact, rng, 100, 0.95, true);
  EXPECT_NEAR(e.ci_low, -1.0, 1e-12);
  EXPECT_NEAR(e.ci_high, -1.0, 1e-12);
}

TEST(ConvergenceFit, GeometricLossGivesItsRate) {
  std::vector<double> losses;
  for (int n = 0; n < 100; ++n) losses.push_back(5.0 * std::pow(0.9, n));
  const ConvergenceFit f = linear_convergence_fit(losses);
  EXPECT_NEAR(f.contraction, 0.9, 1e-12);
  EXPECT_NEAR(f.rate, -std::log(0.9), 1e-12);
  EXPECT_TRUE(f.linear);
  // The window stops where the loss falls below 100 eps loss(0).
  for (int n = 0; n < 400; ++n) losses.push_back(0.0);
  EXPECT_EQ(linear_convergence_fit(losses).window, 100u);
  EXPECT_THROW(linear_convergence_fit(std::vector<double>{0.0, 0.0, 0.0}), std::invalid_argument);
}

TEST(KsDistance, SmallForNormalLargeForUniform) {
  Rng rng(5);
  std::vector<double> normal(4000), uniform(4000);
  for (double& v : normal) v = rng.normal(3.0, 2.0);
  for (double& v : uniform) v = rng.uniform01();
  const NormalKsResult n = ks_distance_to_fitted_normal(normal);
  EXPECT_LT(n.distance, 0.03);  // Lilliefors 1% critical value ~1.035/sqrt(n) = 0.016; a margin for seeds
  EXPECT_NEAR(n.mean, 3.0, 0.1);
  EXPECT_NEAR(n.std, 2.0, 0.1);
  EXPECT_GT(ks_distance_to_fitted_normal(uniform).distance, 0.05);  // uniform vs normal: ~0.057
}

}  // namespace
}  // namespace tapelab::nn
