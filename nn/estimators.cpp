#include "nn/estimators.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tapelab::nn {
namespace {

void require_points(const char* fn, const DiscretePath& path, std::size_t at_least) {
  if (path.dim == 0 || path.values.size() % path.dim != 0)
    throw std::invalid_argument(std::string(fn) + ": path values (" + std::to_string(path.values.size()) +
                                ") are not a whole number of points of dimension " +
                                std::to_string(path.dim));
  if (path.size() < at_least)
    throw std::invalid_argument(std::string(fn) + ": path has " + std::to_string(path.size()) +
                                " points, needs at least " + std::to_string(at_least));
}

double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * double(sorted.size() - 1);
  const std::size_t lo = std::size_t(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return quantile_sorted(v, 0.5);
}

}  // namespace

double squared_distance(const Tensor<double>& a, const Tensor<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("squared_distance: tensors of " + std::to_string(a.size()) + " and " +
                                std::to_string(b.size()) + " numbers");
  double s = 0.0;
  for (index_t i = 0; i < a.size(); ++i) {
    const double d = a.data()[i] - b.data()[i];
    s += d * d;
  }
  return s;
}

double frobenius_distance(const Tensor<double>& a, const Tensor<double>& b) { return std::sqrt(squared_distance(a, b)); }

double DiscretePath::distance(std::size_t i, std::size_t j) const {
  double s = 0.0;
  for (std::size_t c = 0; c < dim; ++c) {
    const double d = values[i * dim + c] - values[j * dim + c];
    s += d * d;
  }
  return std::sqrt(s);
}

DiscretePath DiscretePath::scalar(std::vector<double> values) { return DiscretePath{1, std::move(values)}; }

DiscretePath DiscretePath::from_matrices(const std::vector<Tensor<double>>& matrices) {
  DiscretePath path;
  if (matrices.empty()) return path;
  const index_t rows = matrices[0].rows(), cols = matrices[0].cols();
  path.dim = std::size_t(rows * cols);
  path.values.reserve(path.dim * matrices.size());
  for (std::size_t k = 0; k < matrices.size(); ++k) {
    if (matrices[k].rows() != rows || matrices[k].cols() != cols)
      throw std::invalid_argument("DiscretePath::from_matrices: matrix " + std::to_string(k) + " is " +
                                  std::to_string(matrices[k].rows()) + "x" +
                                  std::to_string(matrices[k].cols()) + " but matrix 0 is " +
                                  std::to_string(rows) + "x" + std::to_string(cols));
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) path.values.push_back(matrices[k](i, j));
  }
  return path;
}

DiscretePath DiscretePath::cumulative(const DiscretePath& steps, double scale) {
  DiscretePath out;
  out.dim = steps.dim;
  out.values.assign(out.dim, 0.0);
  for (std::size_t k = 0; k < steps.size(); ++k)
    for (std::size_t c = 0; c < out.dim; ++c)
      out.values.push_back(out.values[k * out.dim + c] + scale * steps.values[k * out.dim + c]);
  return out;
}

double p_variation(const DiscretePath& path, double p) {
  require_points("p_variation", path, 1);
  if (!(p >= 1.0)) throw std::invalid_argument("p_variation: p = " + std::to_string(p) + " must be >= 1");
  const std::size_t n = path.size();
  std::vector<double> best(n, 0.0);  // best[j]: max sum over partitions of x_0..x_j ending at j
  for (std::size_t j = 1; j < n; ++j) {
    double b = 0.0;
    for (std::size_t i = 0; i < j; ++i) b = std::max(b, best[i] + std::pow(path.distance(i, j), p));
    best[j] = b;
  }
  return std::pow(best[n - 1], 1.0 / p);
}

double quadratic_variation(const DiscretePath& path) {
  require_points("quadratic_variation", path, 1);
  double qv = 0.0;
  for (std::size_t k = 0; k + 1 < path.size(); ++k) {
    const double d = path.distance(k, k + 1);
    qv += d * d;
  }
  return qv;
}

double max_point_norm(const DiscretePath& path) {
  require_points("max_point_norm", path, 1);
  double m = 0.0;
  for (std::size_t k = 0; k < path.size(); ++k) {
    double s = 0.0;
    for (std::size_t c = 0; c < path.dim; ++c)
      s += path.values[k * path.dim + c] * path.values[k * path.dim + c];
    m = std::max(m, std::sqrt(s));
  }
  return m;
}

double root_sum_of_squares(const DiscretePath& path) {
  require_points("root_sum_of_squares", path, 1);
  double s = 0.0;
  for (double v : path.values) s += v * v;
  return std::sqrt(s);
}

double max_increment(const DiscretePath& path) {
  require_points("max_increment", path, 1);
  double m = 0.0;
  for (std::size_t k = 0; k + 1 < path.size(); ++k) m = std::max(m, path.distance(k, k + 1));
  return m;
}

double mean_increment(const DiscretePath& path) {
  require_points("mean_increment", path, 2);
  double s = 0.0;
  for (std::size_t k = 0; k + 1 < path.size(); ++k) s += path.distance(k, k + 1);
  return s / double(path.size() - 1);
}

LinearFit ols_fit(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size())
    throw std::invalid_argument("ols_fit: x has " + std::to_string(x.size()) + " points but y has " +
                                std::to_string(y.size()));
  if (x.size() < 2) throw std::invalid_argument("ols_fit: needs at least 2 points");
  const double n = double(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0.0) throw std::invalid_argument("ols_fit: all x are equal; the slope is undefined");
  LinearFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  fit.r_squared = syy == 0.0 ? 1.0 : (sxy * sxy) / (sxx * syy);
  fit.points = x.size();
  return fit;
}

LinearFit log_log_fit(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size()) return ols_fit(x, y);  // throws the size message
  std::vector<double> lx(x.size()), ly(y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0.0) || !(y[i] > 0.0) || !std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw std::invalid_argument("log_log_fit: point " + std::to_string(i) +
                                  " (x = " + std::to_string(x[i]) + ", y = " + std::to_string(y[i]) +
                                  ") is not positive and finite");
    lx[i] = std::log(x[i]);
    ly[i] = std::log(y[i]);
  }
  return ols_fit(lx, ly);
}

HolderEstimate holder_exponent(const DiscretePath& path, std::size_t max_scale) {
  require_points("holder_exponent", path, 8);
  const std::size_t n = path.size();
  if (max_scale == 0) max_scale = n / 8;
  if (max_scale < 2) throw std::invalid_argument("holder_exponent: needs max_scale >= 2 (two scales)");
  HolderEstimate est;
  for (std::size_t h = 1; h <= max_scale && h < n; h *= 2) {
    double s = 0.0;
    for (std::size_t k = 0; k + h < n; ++k) {
      const double d = path.distance(k, k + h);
      s += d * d;
    }
    est.scales.push_back(double(h));
    est.mean_squared_increments.push_back(s / double(n - h));
  }
  est.fit = log_log_fit(est.scales, est.mean_squared_increments);
  est.exponent = 0.5 * est.fit.slope;
  return est;
}

BootstrapSlope log_log_fit_bootstrap(std::span<const double> x,
                                     const std::vector<std::vector<double>>& y_by_seed, Rng& rng,
                                     std::size_t resamples, double level, bool use_median) {
  if (y_by_seed.empty()) throw std::invalid_argument("log_log_fit_bootstrap: no seeds");
  for (std::size_t s = 0; s < y_by_seed.size(); ++s)
    if (y_by_seed[s].size() != x.size())
      throw std::invalid_argument("log_log_fit_bootstrap: seed " + std::to_string(s) + " has " +
                                  std::to_string(y_by_seed[s].size()) + " values but x has " +
                                  std::to_string(x.size()));
  if (!(level > 0.0 && level < 1.0))
    throw std::invalid_argument("log_log_fit_bootstrap: level must be in (0, 1)");
  auto aggregate = [&](const std::vector<std::size_t>& seeds) {
    std::vector<double> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::vector<double> v;
      for (std::size_t s : seeds) v.push_back(y_by_seed[s][i]);
      if (use_median) {
        y[i] = median(v);
      } else {
        double m = 0.0;
        for (double e : v) m += e;
        y[i] = m / double(v.size());
      }
    }
    return log_log_fit(x, y);
  };
  std::vector<std::size_t> all(y_by_seed.size());
  for (std::size_t s = 0; s < all.size(); ++s) all[s] = s;
  BootstrapSlope out;
  out.fit = aggregate(all);
  std::vector<double> slopes;
  slopes.reserve(resamples);
  std::vector<std::size_t> pick(all.size());
  for (std::size_t r = 0; r < resamples; ++r) {
    for (auto& p : pick) p = std::size_t(rng.uniform_index(all.size()));
    slopes.push_back(aggregate(pick).slope);
  }
  if (slopes.empty()) {
    out.ci_low = out.ci_high = out.fit.slope;
    return out;
  }
  std::sort(slopes.begin(), slopes.end());
  out.ci_low = quantile_sorted(slopes, (1.0 - level) / 2.0);
  out.ci_high = quantile_sorted(slopes, (1.0 + level) / 2.0);
  return out;
}

ConvergenceFit linear_convergence_fit(std::span<const double> losses) {
  if (losses.empty() || !(losses[0] > 0.0))
    throw std::invalid_argument("linear_convergence_fit: needs a positive initial loss");
  const double floor = 100.0 * DBL_EPSILON * losses[0];
  std::vector<double> n, log_loss;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    if (!(losses[i] > floor) || !std::isfinite(losses[i])) break;
    n.push_back(double(i));
    log_loss.push_back(std::log(losses[i]));
  }
  if (n.size() < 3)
    throw std::invalid_argument("linear_convergence_fit: only " + std::to_string(n.size()) +
                                " losses above 100 eps loss(0); needs 3");
  const LinearFit fit = ols_fit(n, log_loss);
  ConvergenceFit out;
  out.rate = -fit.slope;
  out.contraction = std::exp(fit.slope);
  out.r_squared = fit.r_squared;
  out.window = n.size();
  out.linear = fit.r_squared >= 0.98;
  return out;
}

NormalKsResult ks_distance_to_fitted_normal(std::span<const double> samples) {
  if (samples.size() < 2)
    throw std::invalid_argument("ks_distance_to_fitted_normal: needs at least 2 samples");
  NormalKsResult out;
  const double n = double(samples.size());
  for (double v : samples) out.mean += v;
  out.mean /= n;
  double ss = 0.0;
  for (double v : samples) ss += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(ss / (n - 1.0));
  if (!(out.std > 0.0))
    throw std::invalid_argument("ks_distance_to_fitted_normal: the samples have zero spread");
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double cdf = 0.5 * std::erfc(-(sorted[i] - out.mean) / (out.std * std::sqrt(2.0)));
    out.distance = std::max({out.distance, double(i + 1) / n - cdf, cdf - double(i) / n});
  }
  return out;
}

}  // namespace tapelab::nn
