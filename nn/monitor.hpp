#pragma once
// Monitor: the theorem observables, one record per training iteration, streamed to CSV or JSON-lines.
//
// Layers are found by parameter name: every parameter called "layers.<k>.<anything>" belongs to layer k
// (ResidualNetwork's naming). Z_k is the tuple of layer k's tensors, with P4's norm ||Z_k|| = sum of the
// Frobenius norms of its tensors (P4 4.1); the path statistics (quadratic / p-variation, Hölder exponent)
// treat Z_k as one flattened vector (Euclidean norm).
//
// Schema (fixed; the CSV header and the JSON keys are exactly these, in this order; a value not computed this
// iteration is empty in CSV and null in JSON):
//   iteration             the caller's iteration number
//   loss                  the loss passed in
//   grad_norm             (sum over trainable parameters of ||grad||_F^2)^{1/2}
//   pl_ratio              grad_norm^2 / loss (P4 Def. 1 without its factor L on the residual weights)
//   max_weight_norm       max_k ||Z_k(t)||
//   max_distance_to_init  max_k ||Z_k(t) - Z_k(0)||    (Z(0): the weights when the Monitor was made)
//   max_increment         max_k ||Z_{k+1}(t) - Z_k(t)||
//   max_increment_times_L L * max_increment (P4 Prop. 3: bounded by K)
//   -- on the schedule only (iteration 0, every `expensive_every`, and log-spaced 1, 2, 4, 8, ...):
//   max_spectral_norm     max over layers and their matrices of ||M||_2 (power iteration)
//   quadratic_variation   sum_k ||Z_{k+1} - Z_k||^2
//   p_variation           V_p^{1/p} of k -> Z_k, p = MonitorOptions::p (exact DP)
//   holder_exponent       estimator of papers.md 6.5 on k -> Z_k (empty if depth < 16 or the path is
//   constant) hidden_growth         ||h_L - h_0||_F / ||h_0||_F     (when hidden states are passed to
//   record()) gradient_ratio        ||dl/dh_0||_F / ||dl/dh_L||_F  (when hidden gradients are passed)
//   -- with per_layer: two more keys/columns, lists over k (CSV: ';'-separated in one field)
//   layer_weight_norms, layer_distances_to_init
//
// Numbers are printed with 17 significant digits; non-finite ones as NaN / Infinity (accepted by Python's
// json and pandas).
// The file is written to "<path>.tmp" and renamed to <path> by close() (or the destructor): a reader never
// sees a half-written file under the final name.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace tapelab::nn {

enum class MonitorFormat { csv, json_lines };

struct MonitorOptions {
  std::string path;  // empty: no file, records only kept in memory (last())
  MonitorFormat format = MonitorFormat::csv;
  long long expensive_every = 0;  // 0: only iteration 0 and the log-spaced ones
  bool log_spaced = true;
  bool per_layer = false;
  double p = 2.0;
  int power_iterations = 100;
};

struct MonitorRecord {
  long long iteration = 0;
  double loss = 0, grad_norm = 0, pl_ratio = 0;
  double max_weight_norm = 0, max_distance_to_init = 0, max_increment = 0, max_increment_times_L = 0;
  std::optional<double> max_spectral_norm, quadratic_variation, p_variation, holder_exponent, hidden_growth,
      gradient_ratio;
  std::vector<double> layer_weight_norms, layer_distances_to_init;
};

// Largest singular value by power iteration on M^T M from a fixed start vector (deterministic).
double spectral_norm(const Tensor<double>& m, int iterations = 100);

class Monitor {
 public:
  Monitor(Module& module, MonitorOptions options);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Call once per iteration, after backward (the gradients are read) and before the optimiser step, or at
  // any point where weights and gradients belong together. Hidden states / gradients (h_0..h_L, dl/dh_k) are
  // optional.
  const MonitorRecord& record(long long iteration, double loss,
                              const std::vector<Tensor<double>>* hidden = nullptr,
                              const std::vector<Tensor<double>>* hidden_grads = nullptr);
  bool is_expensive_iteration(long long iteration) const;
  const MonitorRecord& last() const { return last_; }
  std::size_t depth() const { return layers_.size(); }
  // Flushes and renames the file into place. Idempotent.
  void close();
  // The CSV header / the JSON keys, in order.
  std::vector<std::string> schema() const;

 private:
  void write(const MonitorRecord& r);

  Module& module_;
  MonitorOptions options_;
  std::vector<std::vector<Param*>> layers_;        // layers_[k]: layer k's parameters
  std::vector<std::vector<Tensor<double>>> init_;  // Z_k(0)
  MonitorRecord last_;
  std::FILE* file_ = nullptr;
  std::string temp_path_;
};

}  // namespace tapelab::nn
