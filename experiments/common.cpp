#include "experiments/common.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace tapelab::experiments {

std::vector<int> linspace_int(double first, double last, int count) {
  std::vector<int> out;
  for (int i = 0; i < count; ++i)
    out.push_back(int(count == 1 ? first : first + (last - first) * double(i) / double(count - 1)));
  return out;
}

std::vector<int> powers_of_two(int lo, int hi) {
  std::vector<int> out;
  for (int e = lo; e <= hi; ++e) out.push_back(1 << e);
  return out;
}

double mean(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / double(v.size());
}

double mean_of_squares(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x * x;
  return v.empty() ? NAN : s / double(v.size());
}

double sample_std(std::span<const double> v) {
  if (v.size() < 2) return NAN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

double quantile(std::span<const double> v, double q) {
  if (v.empty()) return NAN;
  std::vector<double> sorted(v.begin(), v.end());
  std::sort(sorted.begin(), sorted.end());
  const double pos = q * double(sorted.size() - 1);
  const std::size_t lo = std::size_t(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

double median(std::span<const double> v) { return quantile(v, 0.5); }

kernels::Activation parse_activation_flag(const std::string& name) {
  kernels::Activation a;
  if (!kernels::parse_activation(name, a))
    throw std::invalid_argument("--activation: unknown activation '" + name + "' (one of " + activation_names() + ")");
  return a;
}

bool parse_precision_flag(const std::string& name) {
  if (name == "float") return true;
  if (name == "double") return false;
  throw std::invalid_argument("--precision: unknown precision '" + name + "' (float or double)");
}

std::string activation_names() {
  std::string s;
  for (kernels::Activation a : kernels::kAllActivations) {
    if (!s.empty()) s += '|';
    s += kernels::activation_name(a);
  }
  return s;
}

nlohmann::json fit_json(const nn::LinearFit& fit) {
  return {{"slope", fit.slope}, {"intercept", fit.intercept}, {"r_squared", fit.r_squared}, {"points", fit.points}};
}

nlohmann::json fit_json(const nn::BootstrapSlope& fit) {
  nlohmann::json j = fit_json(fit.fit);
  j["ci95"] = {fit.ci_low, fit.ci_high};
  return j;
}

void require_positive(const std::string& flag, std::span<const int> values) {
  if (values.empty()) throw std::invalid_argument(flag + ": needs at least one value");
  for (int v : values)
    if (v <= 0) throw std::invalid_argument(flag + ": " + std::to_string(v) + " is not positive");
}

void require_positive(const std::string& flag, std::span<const double> values) {
  if (values.empty()) throw std::invalid_argument(flag + ": needs at least one value");
  for (double v : values)
    if (!(v > 0) || !std::isfinite(v)) throw std::invalid_argument(flag + ": " + std::to_string(v) + " is not a positive number");
}

void require_increasing(const std::string& flag, std::span<const int> values) {
  require_positive(flag, values);
  for (std::size_t i = 1; i < values.size(); ++i)
    if (values[i] <= values[i - 1])
      throw std::invalid_argument(flag + ": values must increase (" + std::to_string(values[i - 1]) + " then " +
                                  std::to_string(values[i]) + ")");
}

void require_at_least(const std::string& flag, long long value, long long minimum) {
  if (value < minimum)
    throw std::invalid_argument(flag + ": " + std::to_string(value) + " is below the minimum " + std::to_string(minimum));
}

void require_readable_file(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in.good()) throw std::invalid_argument(flag + ": cannot read '" + path + "'");
}

}  // namespace tapelab::experiments
