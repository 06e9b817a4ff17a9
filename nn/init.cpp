#include "nn/init.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>

namespace tapelab::nn {
namespace {

void check_shape(const char* fn, std::size_t depth, index_t rows, index_t cols) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument(std::string(fn) + ": shape " + std::to_string(rows) + "x" +
                                std::to_string(cols) + " must be positive");
  (void)depth;
}

void check_hurst(const char* fn, double hurst) {
  if (!(hurst > 0.0 && hurst < 1.0))
    throw std::invalid_argument(std::string(fn) + ": Hurst exponent " + std::to_string(hurst) +
                                " must lie in (0, 1)");
}

// `count` independent exact fGn sequences of length n, returned as out[k * count + c]. Hosking's method:
// x_k given x_0..x_{k-1} is Gaussian with mean sum_j phi_{k,j} x_{k-j} and variance v_k, the coefficients
// from the Durbin-Levinson recursion on the Toeplitz covariance gamma(i - j). This is the Cholesky
// factorisation of that covariance computed in O(n^2) instead of O(n^3): exact, not an approximation.
// Draw order: for k = 0..n-1, for c = 0..count-1, one normal (drawn in bulk, one k at a time).
std::vector<double> fgn_sequences(Rng& rng, std::size_t n, std::size_t count, double hurst) {
  const std::vector<double> gamma = fgn_autocovariance(n, hurst);
  std::vector<double> out(n * count), z(count);
  std::vector<double> phi(n, 0.0), previous(n, 0.0);  // phi[j] = phi_{k, j}, j = 1..k
  double variance = gamma[0];
  for (std::size_t k = 0; k < n; ++k) {
    if (k > 0) {
      double numerator = gamma[k];
      for (std::size_t j = 1; j < k; ++j) numerator -= previous[j] * gamma[k - j];
      const double reflection = numerator / variance;
      phi[k] = reflection;
      for (std::size_t j = 1; j < k; ++j) phi[j] = previous[j] - reflection * previous[k - j];
      variance *= (1.0 - reflection * reflection);
      previous = phi;
    }
    const double sd = std::sqrt(std::max(variance, 0.0));
    rng.fill_normal(z, 0.0, 1.0);
    for (std::size_t c = 0; c < count; ++c) {
      double mean = 0.0;
      for (std::size_t j = 1; j <= k; ++j) mean += phi[j] * out[(k - j) * count + c];
      out[k * count + c] = mean + sd * z[c];
    }
  }
  return out;
}

// Lower Cholesky factor of a symmetric positive semi-definite n x n matrix (row-major, in place). A pivot
// that rounding made non-positive is set to zero with its column (the semi-definite case of a very smooth
// kernel), rather than failing.
void cholesky_in_place(std::vector<double>& a, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    const double pivot = d > 0.0 ? std::sqrt(d) : 0.0;
    a[j * n + j] = pivot;
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = pivot > 0.0 ? s / pivot : 0.0;
    }
    for (std::size_t k = j + 1; k < n; ++k) a[j * n + k] = 0.0;
  }
}

std::vector<double> rbf_cholesky(const std::vector<double>& positions, double length_scale) {
  if (!(length_scale > 0.0))
    throw std::invalid_argument("sample_gp_rbf: length_scale " + std::to_string(length_scale) +
                                " must be positive");
  const std::size_t n = positions.size();
  std::vector<double> k(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double diff = positions[i] - positions[j];
      k[i * n + j] = std::exp(-diff * diff / (2.0 * length_scale * length_scale)) + (i == j ? 1e-10 : 0.0);
    }
  cholesky_in_place(k, n);
  return k;
}

// `count` GP samples at the positions: out[p * count + c]. Draw order: for c, for p (one sample at a time).
std::vector<double> gp_sequences(Rng& rng, const std::vector<double>& positions, double length_scale,
                                 std::size_t count) {
  const std::size_t n = positions.size();
  const std::vector<double> chol = rbf_cholesky(positions, length_scale);
  std::vector<double> out(n * count), z(n);
  for (std::size_t c = 0; c < count; ++c) {
    rng.fill_normal(z, 0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (std::size_t k = 0; k <= i; ++k) s += chol[i * n + k] * z[k];
      out[i * count + c] = s;
    }
  }
  return out;
}

WeightPath path_from_sequences(const std::vector<double>& seq, std::size_t depth, index_t rows, index_t cols,
                               double scale) {
  const std::size_t count = std::size_t(rows * cols);
  WeightPath path;
  path.reserve(depth);
  for (std::size_t k = 0; k < depth; ++k) {
    Matrix w(rows, cols);
    for (std::size_t c = 0; c < count; ++c) w.data()[c] = scale * seq[k * count + c];
    path.push_back(std::move(w));
  }
  return path;
}

}  // namespace

Matrix zeros(index_t rows, index_t cols) { return Matrix::filled(rows, cols, 0.0); }

Matrix gaussian(Rng& rng, index_t rows, index_t cols, double std) {
  check_shape("gaussian", 1, rows, cols);
  if (!(std >= 0.0)) throw std::invalid_argument("gaussian: std " + std::to_string(std) + " must be >= 0");
  Matrix w(rows, cols);
  rng.fill_normal(std::span<double>(w.data(), std::size_t(w.size())), 0.0, std);  // row-major
  return w;
}

Matrix uniform(Rng& rng, index_t rows, index_t cols, double bound) {
  check_shape("uniform", 1, rows, cols);
  if (!(bound >= 0.0))
    throw std::invalid_argument("uniform: bound " + std::to_string(bound) + " must be >= 0");
  Matrix w(rows, cols);
  rng.fill_uniform(std::span<double>(w.data(), std::size_t(w.size())), -bound, bound);  // row-major
  return w;
}

Matrix uniform_with_variance(Rng& rng, index_t rows, index_t cols, double variance) {
  if (!(variance >= 0.0))
    throw std::invalid_argument("uniform_with_variance: variance " + std::to_string(variance) +
                                " must be >= 0");
  return uniform(rng, rows, cols, std::sqrt(3.0 * variance));
}

double fan_in_std(index_t fan_in) {
  if (fan_in <= 0) throw std::invalid_argument("fan_in_std: fan_in must be positive");
  return 1.0 / std::sqrt(double(fan_in));
}
double fan_in_uniform_bound(index_t fan_in) {
  if (fan_in <= 0) throw std::invalid_argument("fan_in_uniform_bound: fan_in must be positive");
  return std::sqrt(3.0 / double(fan_in));
}

Matrix input_embedding_identity(index_t q, index_t d) {
  if (q < d) throw std::invalid_argument("input_embedding_identity: P4 needs q >= d");
  Matrix a = zeros(q, d);
  for (index_t i = 0; i < d; ++i) a(i, i) = 1.0;
  return a;
}
Matrix output_embedding_identity(index_t d_out, index_t q) {
  if (q < d_out) throw std::invalid_argument("output_embedding_identity: P4 needs q >= d'");
  Matrix b = zeros(d_out, q);
  for (index_t i = 0; i < d_out; ++i) b(i, q - d_out + i) = 1.0;  // B = (0, I_d')
  return b;
}

WeightPath iid_gaussian_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double std) {
  WeightPath path;
  for (std::size_t k = 0; k < depth; ++k) path.push_back(gaussian(rng, rows, cols, std));
  return path;
}
WeightPath iid_uniform_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double bound) {
  WeightPath path;
  for (std::size_t k = 0; k < depth; ++k) path.push_back(uniform(rng, rows, cols, bound));
  return path;
}
WeightPath zero_path(std::size_t depth, index_t rows, index_t cols) {
  return WeightPath(depth, zeros(rows, cols));
}
WeightPath tied_gaussian_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double std) {
  return WeightPath(depth, gaussian(rng, rows, cols, std));
}

std::vector<double> fgn_autocovariance(std::size_t n, double hurst) {
  check_hurst("fgn_autocovariance", hurst);
  std::vector<double> gamma(n);
  const double e = 2.0 * hurst;
  for (std::size_t k = 0; k < n; ++k) {
    const double kd = double(k);
    gamma[k] = 0.5 * (std::pow(std::abs(kd - 1.0), e) - 2.0 * std::pow(kd, e) + std::pow(kd + 1.0, e));
  }
  return gamma;
}

std::vector<double> sample_fgn(Rng& rng, std::size_t n, double hurst) {
  check_hurst("sample_fgn", hurst);
  return fgn_sequences(rng, n, 1, hurst);
}

WeightPath fgn_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double hurst, double scale) {
  check_shape("fgn_path", depth, rows, cols);
  check_hurst("fgn_path", hurst);
  return path_from_sequences(fgn_sequences(rng, depth, std::size_t(rows * cols), hurst), depth, rows, cols,
                             scale);
}

std::vector<double> sample_gp_rbf(Rng& rng, const std::vector<double>& positions, double length_scale) {
  return gp_sequences(rng, positions, length_scale, 1);
}

WeightPath gp_rbf_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double length_scale,
                       double std) {
  check_shape("gp_rbf_path", depth, rows, cols);
  std::vector<double> s(depth);
  for (std::size_t k = 0; k < depth; ++k) s[k] = double(k) / double(depth);
  return path_from_sequences(gp_sequences(rng, s, length_scale, std::size_t(rows * cols)), depth, rows, cols,
                             std);
}

WeightPath gp_rbf_increment_path(Rng& rng, std::size_t depth, index_t rows, index_t cols, double length_scale,
                                 index_t width) {
  check_shape("gp_rbf_increment_path", depth, rows, cols);
  if (width <= 0) throw std::invalid_argument("gp_rbf_increment_path: width must be positive");
  const std::size_t count = std::size_t(rows * cols);
  std::vector<double> s(depth + 1);
  for (std::size_t k = 0; k <= depth; ++k) s[k] = double(k) / double(depth);
  const std::vector<double> gp = gp_sequences(rng, s, length_scale, count);
  std::vector<double> increments(depth * count);
  double mean_std = 0.0;
  for (std::size_t k = 0; k < depth; ++k) {
    double sum = 0.0, sum_sq = 0.0;
    for (std::size_t c = 0; c < count; ++c) {
      const double inc = gp[(k + 1) * count + c] - gp[k * count + c];
      increments[k * count + c] = inc;
      sum += inc;
      sum_sq += inc * inc;
    }
    const double mean = sum / double(count);
    mean_std += std::sqrt(std::max(sum_sq / double(count) - mean * mean, 0.0));
  }
  mean_std /= double(depth);
  const double scale = mean_std > 0.0 ? 1.0 / (mean_std * std::sqrt(double(width))) : 0.0;
  return path_from_sequences(increments, depth, rows, cols, scale);
}

}  // namespace tapelab::nn
