#include "nn/monitor.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "nn/estimators.hpp"

namespace tapelab::nn {
namespace {

double frobenius(const Tensor<double>& t) {
  double s = 0.0;
  for (index_t i = 0; i < t.size(); ++i) s += t.data()[i] * t.data()[i];
  return std::sqrt(s);
}

// Layer index of "layers.<k>.<rest>", or -1.
long layer_index(const std::string& name) {
  if (name.rfind("layers.", 0) != 0) return -1;
  const std::size_t dot = name.find('.', 7);
  if (dot == std::string::npos || dot == 7) return -1;
  try {
    return std::stol(name.substr(7, dot - 7));
  } catch (const std::exception&) {
    return -1;
  }
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string optional_number(const std::optional<double>& v, bool json) {
  if (!v) return json ? "null" : "";
  return number(*v);
}
std::string list(const std::vector<double>& v, bool json) {
  std::string s = json ? "[" : "";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += json ? ',' : ';';
    s += number(v[i]);
  }
  return s + (json ? "]" : "");
}

}  // namespace

double spectral_norm(const Tensor<double>& m, int iterations) {
  const index_t rows = m.rows(), cols = m.cols();
  if (m.size() == 0) return 0.0;
  std::vector<double> v(static_cast<std::size_t>(cols)), u(static_cast<std::size_t>(rows));
  for (index_t j = 0; j < cols; ++j) v[std::size_t(j)] = 1.0 + 0.01 * double(j);  // fixed start
  double sigma = 0.0;
  for (int it = 0; it < iterations; ++it) {
    double nv = 0.0;  // normalise v
    for (double x : v) nv += x * x;
    nv = std::sqrt(nv);
    if (nv == 0.0) return sigma;
    for (double& x : v) x /= nv;
    double nu = 0.0;  // u = M v, sigma = ||M v|| (increases to sigma_max)
    for (index_t i = 0; i < rows; ++i) {
      double s = 0.0;
      for (index_t j = 0; j < cols; ++j) s += m(i, j) * v[std::size_t(j)];
      u[std::size_t(i)] = s;
      nu += s * s;
    }
    sigma = std::sqrt(nu);
    for (index_t j = 0; j < cols; ++j) {  // v = M^T u
      double s = 0.0;
      for (index_t i = 0; i < rows; ++i) s += m(i, j) * u[std::size_t(i)];
      v[std::size_t(j)] = s;
    }
  }
  return sigma;
}

Monitor::Monitor(Module& module, MonitorOptions options) : module_(module), options_(std::move(options)) {
  if (!(options_.p >= 1.0))
    throw std::invalid_argument("Monitor: p = " + std::to_string(options_.p) + " must be >= 1");
  for (const NamedParameter& np : module_.named_parameters()) {
    const long k = layer_index(np.name);
    if (k < 0) continue;
    if (std::size_t(k) >= layers_.size()) layers_.resize(std::size_t(k) + 1);
    layers_[std::size_t(k)].push_back(np.parameter);
  }
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    if (layers_[k].empty())
      throw std::invalid_argument("Monitor: layer " + std::to_string(k) + " has no parameters");
    if (layers_[k].size() != layers_[0].size())
      throw std::invalid_argument("Monitor: layer " + std::to_string(k) + " has " +
                                  std::to_string(layers_[k].size()) + " tensors but layer 0 has " +
                                  std::to_string(layers_[0].size()));
    std::vector<Tensor<double>> z;
    for (Param* p : layers_[k]) z.push_back(p->value);
    init_.push_back(std::move(z));
  }
  if (!options_.path.empty()) {
    temp_path_ = options_.path + ".tmp";
    file_ = std::fopen(temp_path_.c_str(), "w");
    if (file_ == nullptr)
      throw std::runtime_error("Monitor: cannot open '" + temp_path_ +
                               "' for writing: " + std::strerror(errno));
    if (options_.format == MonitorFormat::csv) {
      const auto keys = schema();
      for (std::size_t i = 0; i < keys.size(); ++i)
        std::fprintf(file_, "%s%s", i ? "," : "", keys[i].c_str());
      std::fprintf(file_, "\n");
    }
  }
}

Monitor::~Monitor() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; close() explicitly to see the error
  }
}

std::vector<std::string> Monitor::schema() const {
  std::vector<std::string> keys{"iteration",         "loss",
                                "grad_norm",         "pl_ratio",
                                "max_weight_norm",   "max_distance_to_init",
                                "max_increment",     "max_increment_times_L",
                                "max_spectral_norm", "quadratic_variation",
                                "p_variation",       "holder_exponent",
                                "hidden_growth",     "gradient_ratio"};
  if (options_.per_layer) {
    keys.push_back("layer_weight_norms");
    keys.push_back("layer_distances_to_init");
  }
  return keys;
}

bool Monitor::is_expensive_iteration(long long iteration) const {
  if (iteration == 0) return true;
  if (options_.expensive_every > 0 && iteration % options_.expensive_every == 0) return true;
  return options_.log_spaced && iteration > 0 && (iteration & (iteration - 1)) == 0;
}

const MonitorRecord& Monitor::record(long long iteration, double loss,
                                     const std::vector<Tensor<double>>* hidden,
                                     const std::vector<Tensor<double>>* hidden_grads) {
  MonitorRecord r;
  r.iteration = iteration;
  r.loss = loss;
  double g2 = 0.0;
  for (Param* p : module_.parameters())
    if (p->requires_grad) g2 += frobenius(p->grad) * frobenius(p->grad);
  r.grad_norm = std::sqrt(g2);
  r.pl_ratio = g2 / loss;
  const std::size_t L = layers_.size();
  for (std::size_t k = 0; k < L; ++k) {
    double norm = 0.0, distance = 0.0;
    for (std::size_t t = 0; t < layers_[k].size(); ++t) {
      norm += frobenius(layers_[k][t]->value);
      distance += frobenius_distance(layers_[k][t]->value, init_[k][t]);
    }
    r.max_weight_norm = std::max(r.max_weight_norm, norm);
    r.max_distance_to_init = std::max(r.max_distance_to_init, distance);
    if (options_.per_layer) {
      r.layer_weight_norms.push_back(norm);
      r.layer_distances_to_init.push_back(distance);
    }
    if (k + 1 < L) {
      double increment = 0.0;
      for (std::size_t t = 0; t < layers_[k].size(); ++t)
        increment += frobenius_distance(layers_[k + 1][t]->value, layers_[k][t]->value);
      r.max_increment = std::max(r.max_increment, increment);
    }
  }
  r.max_increment_times_L = double(L) * r.max_increment;
  if (is_expensive_iteration(iteration)) {
    if (L > 0) {
      double spectral = 0.0;
      DiscretePath path;
      path.dim = 0;
      for (Param* p : layers_[0]) path.dim += std::size_t(p->value.size());
      for (std::size_t k = 0; k < L; ++k)
        for (Param* p : layers_[k]) {
          if (p->rows() > 1 && p->cols() > 1)
            spectral = std::max(spectral, spectral_norm(p->value, options_.power_iterations));
          path.values.insert(path.values.end(), p->value.data(), p->value.data() + p->value.size());
        }
      r.max_spectral_norm = spectral;
      r.quadratic_variation = quadratic_variation(path);
      r.p_variation = p_variation(path, options_.p);
      if (L >= 16) {
        try {
          r.holder_exponent = holder_exponent(path).exponent;
        } catch (const std::invalid_argument&) {  // a constant path (e.g. weight-tied init): no exponent
        }
      }
    }
    if (hidden != nullptr && hidden->size() >= 2) {
      const double h0 = frobenius(hidden->front());
      r.hidden_growth = frobenius_distance(hidden->back(), hidden->front()) / h0;
    }
    if (hidden_grads != nullptr && hidden_grads->size() >= 2)
      r.gradient_ratio = frobenius(hidden_grads->front()) / frobenius(hidden_grads->back());
  }
  last_ = r;
  if (file_ != nullptr) write(r);
  return last_;
}

void Monitor::write(const MonitorRecord& r) {
  const bool json = options_.format == MonitorFormat::json_lines;
  std::vector<std::string> values{std::to_string(r.iteration),
                                  number(r.loss),
                                  number(r.grad_norm),
                                  number(r.pl_ratio),
                                  number(r.max_weight_norm),
                                  number(r.max_distance_to_init),
                                  number(r.max_increment),
                                  number(r.max_increment_times_L),
                                  optional_number(r.max_spectral_norm, json),
                                  optional_number(r.quadratic_variation, json),
                                  optional_number(r.p_variation, json),
                                  optional_number(r.holder_exponent, json),
                                  optional_number(r.hidden_growth, json),
                                  optional_number(r.gradient_ratio, json)};
  if (options_.per_layer) {
    values.push_back(list(r.layer_weight_norms, json));
    values.push_back(list(r.layer_distances_to_init, json));
  }
  const std::vector<std::string> keys = schema();
  std::string line = json ? "{" : "";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) line += ",";
    if (json) {
      line += '"';
      line += keys[i];
      line += "\":";
    }
    line += values[i];
  }
  line += json ? "}\n" : "\n";
  if (std::fputs(line.c_str(), file_) < 0)
    throw std::runtime_error("Monitor: write to '" + temp_path_ + "' failed: " + std::strerror(errno));
}

void Monitor::close() {
  if (file_ == nullptr) return;
  const bool write_ok = std::fflush(file_) == 0;
  const bool close_ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!write_ok || !close_ok)
    throw std::runtime_error("Monitor: could not finish writing '" + temp_path_ + "'");
  if (std::rename(temp_path_.c_str(), options_.path.c_str()) != 0)
    throw std::runtime_error("Monitor: could not rename '" + temp_path_ + "' to '" + options_.path +
                             "': " + std::strerror(errno));
}

}  // namespace tapelab::nn
