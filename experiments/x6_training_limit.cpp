// X6: the large-depth limit of GD training (P4 Thm. 4 and Fig. 1; code finite_training_time_*.py).
//
//   h_0 = A x, h_{k+1} = h_k + (1 / (L sqrt m)) V_{k+1} σ(W_{k+1} h_k / sqrt q), F(x) = B h_L   (P4 eq. 3)
//   (--scaling code: h_{k+1} = h_k + V_{k+1} σ(W_{k+1} h_k) / L, the authors' code)
//   init V_k = 0, W_k = W (tied, W ~ N(0, 1), the same W for every depth); A, B = I frozen; x, y ~ N(0, I)
//   full-batch GD with lr L eta0 on the residual weights (P4 4.3), T iterations
// Claims (P4 Prop. 3, Thm. 4): the layer increments stay O(1/L) along training,
//   D_L = max_{k, t <= T} |Z_{k+1}(t) - Z_k(t)|   (|Z| = |V|_F + |W|_F, P4 4.1)  ~ 1/L,
// and the weights converge to a limit 𝒵(s, t) as L grows:
//   E_L(t) = (mean_k |Z^L_k(t) - Z^ref_{kN/L}(t)|_F^2)^{1/2}   (the tuple's Frobenius norm; P4 Fig. 1 right)
// decreases with L. Z(t) are the weights after t GD steps. papers.md 4.5: the authors' Fig. 1-left script
// plots the l2 norm over (k, t) of the increments, which scales as L^{-1/2}; it is reported too
// (l2_increments).
#include <chrono>
#include <cmath>
#include <set>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/csv_inputs.hpp"
#include "experiments/experiment.hpp"
#include "experiments/progress.hpp"
#include "experiments/sweep.hpp"
#include "kernels/cache_size.hpp"
#include "kernels/target.hpp"
#include "nn/data.hpp"
#include "nn/data_parallel.hpp"
#include "nn/estimators.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

namespace tapelab::experiments {
namespace {

struct X6Config {
  std::vector<int> depths = powers_of_two(1, 10);  // P4 Fig. 1 right: L in 2^1..2^10
  int reference_depth = 16384;                     // P4: 2^14
  int samples = 100;                               // n
  int width = 16;                                  // d = q = d'
  int hidden = 32;                                 // m
  std::string activation = "gelu_erf";             // torch.nn.GELU()
  std::string scaling = "paper";
  double eta0 = 0.01;  // lr = L eta0
  int iterations = 500;
  // t = 1 is left out: one step from V = 0 gives every layer of every depth the same V (all h_k = h_0),
  // so E = 0.
  std::vector<int> record_at = {2, 5, 10, 20, 50, 100, 200, 500};
  std::string x_csv, y_csv, w0_csv;
};

// The weights of one run at one recorded time: for each kept layer, V then W flattened.
struct Snapshot {
  std::vector<std::size_t> layers;  // which layers were kept
  std::vector<double> z;            // layers.size() * (2 q m)
};

struct DepthResult {
  std::vector<double> loss;           // t = 0..T
  std::vector<double> max_increment;  // t = 0..T: max_k |Z_{k+1}(t) - Z_k(t)|
  double l2_increments = 0;           // sqrt(sum_{t, k} |Z_{k+1}(t) - Z_k(t)|_F^2)
  std::vector<Snapshot> snapshots;    // one per recorded time
  double seconds = 0;
};

class X6 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {
        "X6", "large-depth training limit", "P4 Thm. 4, Fig. 1",
        "GD from a tied init keeps layer increments O(1/L) (slope -1 over L >= 16) and the trained weights "
        "converge as L grows (E_L decreasing, E_1024/E_16 <= 0.2)"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "depths L", std::optional(powers_of_two(1, 8)));
    f.add("--reference-depth", c_.reference_depth, "depth N of the reference network for E_L (P4: 2^14)",
          std::optional(2048));
    f.add("--samples", c_.samples, "n (P4: 100)");
    f.add("--width", c_.width, "d = q = d' (P4: 16)");
    f.add("--hidden", c_.hidden, "m (P4: 32)");
    f.add("--activation", c_.activation, "activation: " + activation_names());
    f.add(
         "--scaling", c_.scaling,
         "paper: P4 eq. 3 with loss (1/n) sum |F(x)-y|^2; code: the authors' 1/L-only step with loss .mean()")
        ->check(CLI::IsMember({"paper", "code"}));
    f.add("--eta0", c_.eta0, "GD learning rate per unit depth: lr = L eta0 (P4: 0.01)");
    f.add("--iterations", c_.iterations, "GD iterations T (P4 text: 500; code: 50)", std::optional(50));
    f.add("--record-at", c_.record_at, "iterations at which E_L is measured",
          std::optional(std::vector<int>{2, 5, 20, 50}));
    f.add("--x", c_.x_csv, "inputs from CSV (one sample per row, d numbers) instead of N(0, I)");
    f.add("--y", c_.y_csv, "targets from CSV (one sample per row, d numbers)");
    f.add("--w0", c_.w0_csv, "initial tied W from CSV (m rows of q numbers) instead of N(0, 1)");
  }
  void validate() const override {
    require_increasing("--depths", c_.depths);
    require_at_least("--reference-depth", c_.reference_depth, c_.depths.back() + 1);
    require_at_least("--samples", c_.samples, 1);
    require_at_least("--width", c_.width, 1);
    require_at_least("--hidden", c_.hidden, 1);
    require_at_least("--iterations", c_.iterations, 1);
    require_increasing("--record-at", c_.record_at);
    if (c_.record_at.back() > c_.iterations)
      throw std::invalid_argument("--record-at: " + std::to_string(c_.record_at.back()) +
                                  " is after the last iteration " + std::to_string(c_.iterations));
    if (!(c_.eta0 > 0)) throw std::invalid_argument("--eta0: must be positive");
    if (c_.x_csv.empty() != c_.y_csv.empty())
      throw std::invalid_argument("--x and --y: give both or neither");
    require_readable_file("--x", c_.x_csv);
    require_readable_file("--y", c_.y_csv);
    require_readable_file("--w0", c_.w0_csv);
    parse_activation_flag(c_.activation);
  }
  void run(Run& run) override;

 private:
  DepthResult train(std::size_t L, const nn::Dataset& data, const nn::Matrix& W0,
                    const std::vector<std::size_t>& keep_every, int threads,
                    std::size_t keep_last_bytes) const;
  X6Config c_;
};

// |Z_{k+1} - Z_k| with P4's norm |V|_F + |W|_F, and the squared tuple norm |dV|_F^2 + |dW|_F^2.
void layer_increment(const nn::Param& V0, const nn::Param& W0, const nn::Param& V1, const nn::Param& W1,
                     double& p4_norm, double& squared) {
  const double v = nn::squared_distance(V1.value, V0.value), w = nn::squared_distance(W1.value, W0.value);
  p4_norm = std::sqrt(v) + std::sqrt(w);
  squared = v + w;
}

// GD on the network of depth L, the batch's two halves through nn::DataParallelStep (on `threads` threads:
// the same bits for any number). keep_last_bytes: ResidualNetworkConfig's, this tape's share of the cache.
DepthResult X6::train(std::size_t L, const nn::Dataset& data, const nn::Matrix& W0,
                      const std::vector<std::size_t>& keep, int threads, std::size_t keep_last_bytes) const {
  const index_t q = c_.width, m = c_.hidden;
  const bool paper = c_.scaling == "paper";
  nn::ResidualNetworkConfig cfg =
      nn::ResidualNetworkConfig::p4(q, q, m, q, L, parse_activation_flag(c_.activation));
  cfg.p4_authors_scaling = !paper;
  // Backward recomputes each layer's GELU instead of keeping it on the tape, except in the last layers, whose
  // activations are still cached when backward reaches them: the same numbers, a fifth of the tape (the
  // reference's 2^14 layers would otherwise keep 0.84 GB of activations), and faster (README).
  cfg.recompute = true;
  cfg.keep_last_bytes = keep_last_bytes;
  nn::Rng unused(0);
  nn::ResidualNetwork net(cfg, unused);
  net.set_layer_weights("W", nn::WeightPath(L, W0));  // tied: the same W for every depth; V = 0 (P4 4.2)
  std::vector<nn::Param*> V(L), W(L);
  for (std::size_t k = 0; k < L; ++k) {
    V[k] = &net.parameter("layers." + std::to_string(k) + ".V");
    W[k] = &net.parameter("layers." + std::to_string(k) + ".W");
  }
  nn::ParamGroup residual{{}, double(L) * c_.eta0};
  for (std::size_t k = 0; k < L; ++k) residual.params.insert(residual.params.end(), {W[k], V[k]});
  nn::GradientDescent gd({residual});  // A, B frozen at the identity

  const std::set<int> record(c_.record_at.begin(), c_.record_at.end());
  DepthResult r;
  Tape<double> tape;
  nn::DataParallelStep step(net);
  const index_t n = data.x.cols();
  // The loss of the columns c, as their share of the loss over all n samples: paper
  // (1/n) Σ ||F(x_i) - y_i||²; the authors' code mse, the mean over the n q entries.
  auto part_loss = [&](Tape<double>& tp, ColumnRange c) {
    const Var<double> pred = net.forward(tp, data.x.col_range(c.begin, c.end));
    const Var<double> y = tp.constant(data.y.col_range(c.begin, c.end));
    return paper ? nn::mean_squared_norm_loss(pred, y, n)
                 : scale(squared_norm(sub(pred, y)), 1.0 / double(n * data.y.rows()));
  };
  const auto start = std::chrono::steady_clock::now();
  double l2 = 0;
  for (int t = 0; t <= c_.iterations; ++t) {
    // Z(t): measure, then (t < T) one GD step. The loss of Z(t) comes from the same forward pass as its
    // gradient.
    double worst = 0;
    for (std::size_t k = 0; k + 1 < L; ++k) {
      double p4, sq;
      layer_increment(*V[k], *W[k], *V[k + 1], *W[k + 1], p4, sq);
      worst = std::max(worst, p4);
      if (t < c_.iterations) l2 += sq;  // the authors' sum over t < T
    }
    r.max_increment.push_back(worst);
    if (record.count(t)) {
      Snapshot s{keep, {}};
      s.z.reserve(keep.size() * std::size_t(2 * q * m));
      for (std::size_t k : keep) {
        s.z.insert(s.z.end(), V[k]->value.data(), V[k]->value.data() + V[k]->value.size());
        s.z.insert(s.z.end(), W[k]->value.data(), W[k]->value.data() + W[k]->value.size());
      }
      r.snapshots.push_back(std::move(s));
    }
    if (t < c_.iterations) {
      r.loss.push_back(step.step(t, gd, n, part_loss, threads));
    } else {  // Z(T): its loss only, summed over the same parts as the training losses
      NoGradGuard no_grad;
      const int parts = batch_parts(n);
      double loss = 0;
      for (int p = 0; p < parts; ++p) {
        tape.clear();
        loss += part_loss(tape, batch_part(n, parts, p)).item();
      }
      r.loss.push_back(loss);
    }
  }
  r.l2_increments = std::sqrt(l2);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void X6::run(Run& run) {
  const index_t q = c_.width, m = c_.hidden;
  nn::Dataset data;
  if (!c_.x_csv.empty()) {
    data = read_dataset_csv(c_.x_csv, c_.y_csv, q);
    run.note("data from " + c_.x_csv + " and " + c_.y_csv + " (" + std::to_string(data.x.cols()) +
             " samples)");
  } else {
    nn::Rng data_rng(run.seed(), 1);
    data = nn::p4_gaussian_data(data_rng, c_.samples, q, q);
  }
  nn::Matrix W0;
  if (!c_.w0_csv.empty()) {
    W0 = read_matrix_stack_csv(c_.w0_csv, 1, m, q, "--w0")[0];
    run.note("initial tied W from " + c_.w0_csv);
  } else {
    nn::Rng weight_rng(run.seed(), 2);
    W0 = nn::gaussian(weight_rng, m, q, 1.0);  // P4 4.2: W ~ N(0, 1)
  }

  // The inputs, as --x/--y/--w0 read them back: a rerun (or another implementation) starts from the same
  // numbers.
  run.write_text("input_x.csv", samples_csv(data.x));
  run.write_text("input_y.csv", samples_csv(data.y));
  run.write_text("initial_W.csv", matrix_stack_csv({W0}));

  // Every depth keeps all its layers at the recorded times; the reference keeps the layers floor(k N / L).
  const std::size_t N = std::size_t(c_.reference_depth);
  std::vector<std::size_t> depths(c_.depths.begin(), c_.depths.end());
  std::set<std::size_t> needed;
  for (std::size_t L : depths)
    for (std::size_t k = 0; k < L; ++k) needed.insert(k * N / L);
  std::vector<std::size_t> all_jobs{N};
  for (auto it = depths.rbegin(); it != depths.rend(); ++it) all_jobs.push_back(*it);  // deepest first
  std::vector<DepthResult> results(all_jobs.size());
  double total = 0;
  for (std::size_t L : all_jobs) total += double(L);
  Progress progress("X6", all_jobs.size(), "depths", total);
  // As many tapes at a time as threads (the reference's batch halves, then depths side by side), each with
  // its share of the last-level cache for the activations of its last layers.
  const std::size_t keep_last_bytes =
      kernels::last_level_cache_bytes() / std::size_t(std::max(1, run.threads()));
  run.summary()["kept_activations_bytes_per_tape"] = keep_last_bytes;
  // The reference first, on every thread: it is most of the work (2^14 layers against 2^11 for all the depths
  // together), so run beside the others it would leave the other threads idle for most of the run. Its two
  // batch halves meet once per GD step (DataParallelStep); op threads for the optimizer's sweeps over its
  // 2^15 weight matrices. Then the other depths side by side, one thread each. Same bits for any thread
  // count.
  {
    struct OpThreads {  // for the reference only, whatever it throws
      int before = kernels::op_threads();
      explicit OpThreads(int n) { kernels::set_op_threads(n); }
      ~OpThreads() { kernels::set_op_threads(before); }
    } op_threads(run.threads());
    results[0] = train(N, data, W0, std::vector<std::size_t>(needed.begin(), needed.end()), run.threads(),
                       keep_last_bytes);
    progress.advance(double(N));
  }
  parallel_for(all_jobs.size() - 1, run.threads(), [&](std::size_t i) {
    const std::size_t j = i + 1, L = all_jobs[j];
    std::vector<std::size_t> keep(L);
    for (std::size_t k = 0; k < L; ++k) keep[k] = k;
    results[j] = train(L, data, W0, keep, 1, keep_last_bytes);
    progress.advance(double(L));
  });
  progress.finish();
  const DepthResult& ref = results[0];

  // E_L(t) = (mean_k |Z^L_k(t) - Z^ref_{kN/L}(t)|^2)^{1/2}
  const std::size_t per_layer = std::size_t(2 * q * m);
  auto distance_to_reference = [&](const Snapshot& s, const Snapshot& r, std::size_t L) {
    double sum = 0;
    for (std::size_t k = 0; k < L; ++k) {
      const std::size_t rk =
          std::size_t(std::lower_bound(r.layers.begin(), r.layers.end(), k * N / L) - r.layers.begin());
      const double* a = &s.z[k * per_layer];
      const double* b = &r.z[rk * per_layer];
      for (std::size_t i = 0; i < per_layer; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
    }
    return std::sqrt(sum / double(L));
  };

  CsvTable iterations({"depth", "iteration", "loss", "max_increment"});
  CsvTable per_depth(
      {"depth", "max_increment_D", "D_times_L", "l2_increments", "final_loss", "ms_per_iteration"});
  CsvTable distances({"depth", "iteration", "E"});
  std::vector<double> fit_L, fit_D, fit_l2;
  std::vector<std::vector<double>> E(c_.record_at.size());  // E[t][depth index], depths ascending
  nlohmann::json depth_json = nlohmann::json::array();
  for (std::size_t j = all_jobs.size(); j-- > 0;) {  // ascending depth, reference last
    const std::size_t L = all_jobs[j];
    const DepthResult& r = results[j];
    for (std::size_t t = 0; t < r.loss.size(); ++t)
      iterations.add_row({(long long)L, (long long)t, r.loss[t], r.max_increment[t]});
    const double D = *std::max_element(r.max_increment.begin(), r.max_increment.end());
    const double ms = 1e3 * r.seconds / double(c_.iterations + 1);
    per_depth.add_row({(long long)L, D, D * double(L), r.l2_increments, r.loss.back(), ms});
    nlohmann::json dj = {{"depth", L},
                         {"max_increment_D", D},
                         {"D_times_L", D * double(L)},
                         {"l2_increments", r.l2_increments},
                         {"initial_loss", r.loss.front()},
                         {"final_loss", r.loss.back()},
                         {"ms_per_iteration", ms}};
    if (j > 0) {
      nlohmann::json ej = nlohmann::json::object();
      for (std::size_t t = 0; t < c_.record_at.size(); ++t) {
        const double e = distance_to_reference(r.snapshots[t], ref.snapshots[t], L);
        E[t].push_back(e);
        distances.add_row({(long long)L, (long long)c_.record_at[t], e});
        ej[std::to_string(c_.record_at[t])] = e;
      }
      dj["E_by_iteration"] = ej;
      if (L >= 16) {
        fit_L.push_back(double(L));
        fit_D.push_back(D);
        fit_l2.push_back(r.l2_increments);
      }
    }
    depth_json.push_back(dj);
  }
  run.write_csv("iterations.csv", iterations);
  run.write_csv("depths.csv", per_depth);
  run.write_csv("distances.csv", distances);
  run.summary()["depths"] = depth_json;
  run.summary()["increment_norm"] = "max_k,t |Z_{k+1}(t) - Z_k(t)| with |Z| = |V|_F + |W|_F (P4 4.1)";
  run.summary()["scaling"] = c_.scaling;

  // papers.md 7, X6 pass criteria.
  if (fit_L.size() >= 2) {
    const nn::LinearFit fit = nn::log_log_fit(fit_L, fit_D);
    const nn::LinearFit fit2 = nn::log_log_fit(fit_L, fit_l2);
    run.summary()["fit_D_vs_depth_L_ge_16"] = fit_json(fit);
    run.summary()["fit_l2_increments_vs_depth_L_ge_16"] = fit_json(fit2);
    run.criterion("slope of D_L over L >= 16", fit.slope, -1.15, -0.85, "P4 Prop. 3: increments O(1/L)");
  } else {
    run.note("fewer than two depths >= 16: the slope of D_L was not fitted");
  }
  // E_L monotone non-increasing over L >= 16 at every recorded t, and E at the largest over E at 16.
  std::size_t first16 = 0;
  while (first16 < depths.size() && depths[first16] < 16) ++first16;
  if (depths.size() - first16 >= 2) {
    double violations = 0, worst_ratio = 0;
    for (std::size_t t = 0; t < E.size(); ++t) {
      for (std::size_t i = first16 + 1; i < depths.size(); ++i) violations += E[t][i] > E[t][i - 1];
      if (E[t][first16] > 0) {
        worst_ratio = std::max(worst_ratio, E[t].back() / E[t][first16]);
      } else {
        run.note("E_16 = 0 at t = " + std::to_string(c_.record_at[t]) +
                 " (every depth has the same weights there): no ratio at that t");
      }
    }
    run.summary()["E_monotonicity_violations"] = violations;
    run.summary()["max_over_t_E_ratio_largest_to_16"] = worst_ratio;
    run.criterion("E_L increases over L >= 16 (count over t, L)", violations, 0, 0,
                  "P4 Thm. 4: convergence in L");
    run.criterion("max_t E_" + std::to_string(depths.back()) + " / E_16", worst_ratio, 0, 0.2,
                  "papers.md 7: E_1024 / E_16 <= 0.2");
  }
  if (c_.iterations != 500) run.note("T = " + std::to_string(c_.iterations) + " iterations (P4 text: 500)");
  if (c_.depths.back() != 1024 && depths.size() - first16 >= 2)
    run.note("the E ratio uses the largest depth " + std::to_string(c_.depths.back()) + " (papers.md: 1024)");
  for (std::size_t j = 0; j < all_jobs.size(); ++j)
    if (all_jobs[j] == 1024)
      run.summary()["ms_per_iteration_L1024"] = 1e3 * results[j].seconds / double(c_.iterations + 1);
}

}  // namespace

std::unique_ptr<Experiment> make_x6_training_limit() { return std::make_unique<X6>(); }

}  // namespace tapelab::experiments
