#pragma once
// Small helpers shared by the experiments: grids, sample statistics, activation flags, fits into JSON.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common.hpp"
#include "nn/estimators.hpp"

namespace tapelab::experiments {

// numpy.linspace(first, last, count, dtype=int): truncated toward zero, as the P5 code builds its depth grid.
std::vector<int> linspace_int(double first, double last, int count);
// 2^lo, 2^(lo+1), ..., 2^hi
std::vector<int> powers_of_two(int lo, int hi);

double mean(std::span<const double> v);
double median(std::span<const double> v);
double mean_of_squares(std::span<const double> v);
double sample_std(std::span<const double> v);  // (n - 1) normalisation
double quantile(std::span<const double> v, double q);  // linear interpolation, q in [0, 1]

// Parses an --activation value; throws std::invalid_argument listing the names.
kernels::Activation parse_activation_flag(const std::string& name);
// Checks a --precision value: true for "float", false for "double"; throws std::invalid_argument otherwise.
bool parse_precision_flag(const std::string& name);
// "relu|tanh|..." for help texts.
std::string activation_names();

// {"slope", "intercept", "r_squared", "points"} of a fit; with a bootstrap, also "ci95": [lo, hi].
nlohmann::json fit_json(const nn::LinearFit& fit);
nlohmann::json fit_json(const nn::BootstrapSlope& fit);

// Throws std::invalid_argument("<flag>: ...") unless every value is > 0 / the list is non-empty and sorted.
void require_positive(const std::string& flag, std::span<const int> values);
void require_positive(const std::string& flag, std::span<const double> values);
void require_increasing(const std::string& flag, std::span<const int> values);
void require_at_least(const std::string& flag, long long value, long long minimum);
// Throws std::invalid_argument("<flag>: cannot read '<path>'") unless path is empty or a readable file.
void require_readable_file(const std::string& flag, const std::string& path);

}  // namespace tapelab::experiments
