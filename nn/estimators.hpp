#pragma once
// The estimators of papers.md section 6, as plain functions on discrete paths and samples.
//
// A DiscretePath is x_0 .. x_{n-1}, each point a vector of `dim` numbers (a scalar path has dim 1; a weight
// path k -> W_k has dim = rows * cols, the distance between points the Frobenius norm).
#include <cstddef>
#include <span>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {

struct DiscretePath {
  std::size_t dim = 1;
  std::vector<double> values;  // point k is values[k * dim .. (k + 1) * dim)

  std::size_t size() const { return dim == 0 ? 0 : values.size() / dim; }
  // ||x_i - x_j||_2
  double distance(std::size_t i, std::size_t j) const;

  static DiscretePath scalar(std::vector<double> values);
  static DiscretePath from_matrices(const std::vector<Tensor<double>>& matrices);
  // x_k = scale * sum_{j<k} steps_j, k = 0..n (n + 1 points, x_0 = 0): the cumulative path of papers.md 6.3.
  static DiscretePath cumulative(const DiscretePath& steps, double scale = 1.0);
};

// ||a - b||_F² and ||a - b||_F of two tensors of the same size (throws std::invalid_argument otherwise): the
// distance between two layers' weights, or between weights and their initial values.
double squared_distance(const Tensor<double>& a, const Tensor<double>& b);
double frobenius_distance(const Tensor<double>& a, const Tensor<double>& b);

// ---- path statistics (papers.md 6.2-6.4) --------------------------------------------------------------
// p-variation (papers.md 6.4): V_p = max over partitions 0 = i_0 < ... < i_m = n-1 of sum ||x_{i_{j+1}} -
// x_{i_j}||^p, by the exact dynamic programme best[j] = max_{i<j} best[i] + ||x_j - x_i||^p (O(n^2)).
// Returns V_p^{1/p}. p >= 1.
double p_variation(const DiscretePath& path, double p);
// QV = sum_k ||x_{k+1} - x_k||^2 (papers.md 6.3).
double quadratic_variation(const DiscretePath& path);
double max_point_norm(const DiscretePath& path);       // max_k ||x_k||
double root_sum_of_squares(const DiscretePath& path);  // (sum_k ||x_k||^2)^{1/2}
double max_increment(const DiscretePath& path);        // max_k ||x_{k+1} - x_k||
double mean_increment(const DiscretePath& path);       // mean_k ||x_{k+1} - x_k||

// ---- fits ------------------------------------------------------------------------------------------------
struct LinearFit {
  double slope = 0, intercept = 0, r_squared = 0;
  std::size_t points = 0;
};
// Ordinary least squares y = intercept + slope x. Needs >= 2 points with distinct x.
LinearFit ols_fit(std::span<const double> x, std::span<const double> y);
// OLS of log y on log x (papers.md 6.1). Every x, y must be positive and finite.
LinearFit log_log_fit(std::span<const double> x, std::span<const double> y);

// Hölder exponent (papers.md 6.5): m(h) = mean_k ||x_{k+h} - x_k||^2 at h = 1, 2, 4, ... <= max_scale
// (default n / 8); exponent = slope / 2 of log m(h) on log h. ~1 smooth, ~1/2 Brownian, ~H cumulative fGn.
struct HolderEstimate {
  double exponent = 0;
  LinearFit fit;
  std::vector<double> scales, mean_squared_increments;
};
HolderEstimate holder_exponent(const DiscretePath& path, std::size_t max_scale = 0);

// Log-log slope with a bootstrap CI over seeds (papers.md 6.1): y_by_seed[s][i] is the measurement of seed s
// at x[i]. The point estimate fits the per-x mean (or median: heavy-tailed quantities) across seeds; the CI
// resamples seeds with replacement `resamples` times and takes the (1-level)/2 and (1+level)/2 quantiles of
// the refitted slopes.
struct BootstrapSlope {
  LinearFit fit;
  double ci_low = 0, ci_high = 0;
};
BootstrapSlope log_log_fit_bootstrap(std::span<const double> x,
                                     const std::vector<std::vector<double>>& y_by_seed, Rng& rng,
                                     std::size_t resamples = 1000, double level = 0.95,
                                     bool use_median = false);

// Linear convergence (papers.md 6.6): OLS of log loss(n) on n over the window where loss > 100 eps loss(0)
// (eps = DBL_EPSILON). rate = -slope, contraction = exp(-rate); `linear` says R^2 >= 0.98.
struct ConvergenceFit {
  double rate = 0, contraction = 0, r_squared = 0;
  std::size_t window = 0;
  bool linear = false;
};
ConvergenceFit linear_convergence_fit(std::span<const double> losses);

// Kolmogorov-Smirnov distance between the empirical CDF of the samples and N(mean, std^2) with the sample
// mean and (n-1) standard deviation (papers.md 6.7).
struct NormalKsResult {
  double distance = 0, mean = 0, std = 0;
};
NormalKsResult ks_distance_to_fitted_normal(std::span<const double> samples);

}  // namespace tapelab::nn
