// X11: linear convergence of GD and 2-variation regularity of the weights (P2; papers.md 3, 7).
//
//   h_{k+1} = h_k + L^{-1/2} tanh(A_k h_k),  k = 0..L-1,  A_k(0) ~ N(0, 1/d) i.i.d.
//   N <= d orthonormal inputs x_i (Gram-Schmidt), y_i = x_i + 0.5 u_i (u_i random unit vectors)
//   loss J = (1/2N) sum_i |h_L(x_i) - y_i|^2, full-batch GD with a fixed step eta (no depth scaling)
// P2's claims [ABS; template MEM/DER]: J(n) <= (1 - eta mu)^n J(0) with a rate that does not degrade with L
// (at δ_L = L^{-1/2}); sup_n max_k |A_k(n) - A_k(0)| = O(L^{-1/2}); the weight path W_t = L^{-1/2} sum_{k < Lt} A_k
// keeps a bounded 2-variation uniformly in L, while its 1-variation grows like sqrt(L).
#include <cmath>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/csv_inputs.hpp"
#include "experiments/experiment.hpp"
#include "experiments/progress.hpp"
#include "experiments/sweep.hpp"
#include "nn/data.hpp"
#include "nn/estimators.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"
#include "nn/residual_network.hpp"
#include "nn/train.hpp"

namespace tapelab::experiments {
namespace {

struct X11Config {
  std::vector<int> depths = {16, 64, 256, 1024};
  int width = 16;   // d
  int samples = 8;  // N
  double lr = 0.5;  // eta
  int iterations = 400;
  std::string activation = "tanh";
  std::string x_csv, y_csv, w0_csv;
};

struct X11Result {
  std::vector<double> loss;          // J(n), n = 0..iterations
  std::vector<double> max_distance;  // max_k |A_k(n) - A_k(0)|_F, n = 0..iterations
  std::vector<double> max_increment; // max_k |A_{k+1}(n) - A_k(n)|_F, n = 0..iterations
  nn::WeightPath initial;            // A_k(0), written out for reruns
  nn::ConvergenceFit rate;
  nn::ConvergenceFit tail_rate;  // the same fit on the second half of the iterations (after the transient)
  double one_variation = 0, two_variation_grid = 0, two_variation_exact = 0, displacement_qv = 0;
  double one_variation_init = 0, two_variation_grid_init = 0;
};

class X11 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {"X11", "linear GD convergence and 2-variation regularity", "P2",
            "h + L^{-1/2} tanh(A_k h), GD: a linear rate independent of L, weights move O(L^{-1/2}), the 2-variation "
            "of W_t = L^{-1/2} sum A_k stays bounded while its 1-variation grows like sqrt(L)"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "depths L", std::optional(std::vector<int>{16, 64, 256}));
    f.add("--width", c_.width, "d");
    f.add("--samples", c_.samples, "N orthonormal inputs (N <= d)");
    f.add("--lr", c_.lr, "GD step eta (the same for every L)");
    f.add("--iterations", c_.iterations, "GD iterations", std::optional(200));
    f.add("--activation", c_.activation, "activation: " + activation_names());
    f.add("--x", c_.x_csv, "inputs from CSV (one sample per row, d numbers)");
    f.add("--y", c_.y_csv, "targets from CSV (one sample per row, d numbers)");
    f.add("--w0", c_.w0_csv, "initial A_0..A_{L-1} from CSV (L * d rows of d numbers; needs a single --depths)");
  }
  void validate() const override {
    require_increasing("--depths", c_.depths);
    require_at_least("--width", c_.width, 1);
    require_at_least("--samples", c_.samples, 1);
    require_at_least("--iterations", c_.iterations, 2);
    if (c_.x_csv.empty() && c_.samples > c_.width)
      throw std::invalid_argument("--samples: " + std::to_string(c_.samples) + " orthonormal inputs need N <= d = " +
                                  std::to_string(c_.width));
    if (!(c_.lr > 0)) throw std::invalid_argument("--lr: must be positive");
    if (c_.x_csv.empty() != c_.y_csv.empty()) throw std::invalid_argument("--x and --y: give both or neither");
    require_readable_file("--x", c_.x_csv);
    require_readable_file("--y", c_.y_csv);
    require_readable_file("--w0", c_.w0_csv);
    if (!c_.w0_csv.empty() && c_.depths.size() != 1)
      throw std::invalid_argument("--w0: initial weights are for one depth; give exactly one value in --depths");
    parse_activation_flag(c_.activation);
  }
  void run(Run& run) override;

 private:
  X11Result train(std::size_t L, const nn::Dataset& data, std::uint64_t seed) const;
  X11Config c_;
};

X11Result X11::train(std::size_t L, const nn::Dataset& data, std::uint64_t seed) const {
  nn::Rng rng(seed, 100 + L);  // A_k(0) ~ N(0, 1/d): the P2 preset's init
  nn::ResidualNetwork net(nn::ResidualNetworkConfig::p2(c_.width, L, parse_activation_flag(c_.activation)), rng);
  if (!c_.w0_csv.empty()) net.set_layer_weights("W", read_matrix_stack_csv(c_.w0_csv, L, c_.width, c_.width, "--w0"));
  const nn::WeightPath A0 = net.layer_weights("W");
  std::vector<nn::Param*> A;
  for (std::size_t k = 0; k < L; ++k) A.push_back(&net.parameter("layers." + std::to_string(k) + ".W"));
  nn::GradientDescent gd(nn::single_group(net, c_.lr));

  auto max_distance = [&] {
    double worst = 0;
    for (std::size_t k = 0; k < L; ++k) worst = std::max(worst, nn::frobenius_distance(A[k]->value, A0[k]));
    return worst;
  };
  auto max_increment = [&] {
    double worst = 0;
    for (std::size_t k = 0; k + 1 < L; ++k)
      worst = std::max(worst, nn::frobenius_distance(A[k + 1]->value, A[k]->value));
    return worst;
  };
  X11Result r;
  r.initial = A0;
  Tape<double> tape;
  auto make_loss = [&](Tape<double>& tp) {  // J = (1/2N) sum_i |h_L - y_i|^2
    return scale(nn::mean_squared_norm_loss(net.forward(tp, data.x), tp.constant(data.y)), 0.5);
  };
  for (int n = 0; n <= c_.iterations; ++n) {
    r.max_distance.push_back(max_distance());
    r.max_increment.push_back(max_increment());
    if (n < c_.iterations) {
      r.loss.push_back(nn::train_step(n, tape, net, gd, make_loss));
    } else {
      tape.clear();
      NoGradGuard no_grad;
      r.loss.push_back(make_loss(tape).item());
    }
  }
  r.rate = nn::linear_convergence_fit(r.loss);
  r.tail_rate = nn::linear_convergence_fit(std::span<const double>(r.loss).subspan(r.loss.size() / 2));

  // W_t = L^{-1/2} sum_{k < Lt} A_k (papers.md 6.3), after training and at initialisation.
  const double c = 1.0 / std::sqrt(double(L));
  const nn::WeightPath A_final = net.layer_weights("W");
  const nn::DiscretePath W = nn::DiscretePath::cumulative(nn::DiscretePath::from_matrices(A_final), c);
  const nn::DiscretePath W_init = nn::DiscretePath::cumulative(nn::DiscretePath::from_matrices(A0), c);
  r.one_variation = nn::p_variation(W, 1.0);
  r.two_variation_grid = std::sqrt(nn::quadratic_variation(W));  // (sum_k |W_{k+1} - W_k|^2)^{1/2}
  r.two_variation_exact = nn::p_variation(W, 2.0);                // sup over partitions, exact DP
  r.one_variation_init = nn::p_variation(W_init, 1.0);
  r.two_variation_grid_init = std::sqrt(nn::quadratic_variation(W_init));
  nn::WeightPath displacement = A_final;
  for (std::size_t k = 0; k < L; ++k)
    for (index_t i = 0; i < displacement[k].size(); ++i) displacement[k].data()[i] -= A0[k].data()[i];
  r.displacement_qv = nn::quadratic_variation(nn::DiscretePath::from_matrices(displacement));
  return r;
}

void X11::run(Run& run) {
  nn::Dataset data;
  if (!c_.x_csv.empty()) {
    data = read_dataset_csv(c_.x_csv, c_.y_csv, c_.width);
    run.note("data from " + c_.x_csv + " and " + c_.y_csv);
  } else {
    nn::Rng data_rng(run.seed(), 1);
    data = nn::p2_orthonormal_data(data_rng, c_.samples, c_.width);
  }
  if (!c_.w0_csv.empty()) run.note("initial weights from " + c_.w0_csv);

  const std::size_t n = c_.depths.size();
  std::vector<X11Result> results(n);
  double total = 0;
  for (int L : c_.depths) total += L;
  Progress progress("X11", n, "depths", total);
  parallel_for(n, run.threads(), [&](std::size_t j) {
    const std::size_t i = n - 1 - j;  // deepest first
    results[i] = train(std::size_t(c_.depths[i]), data, run.seed());
    progress.advance(c_.depths[i]);
  });
  progress.finish();

  run.write_text("input_x.csv", samples_csv(data.x));
  run.write_text("input_y.csv", samples_csv(data.y));
  for (std::size_t i = 0; i < n; ++i)
    run.write_text("initial_A_L" + std::to_string(c_.depths[i]) + ".csv", matrix_stack_csv(results[i].initial));
  CsvTable iterations({"depth", "iteration", "loss", "max_distance_to_init", "max_increment"});
  CsvTable depths({"depth", "rate", "r_squared", "sup_max_distance", "sqrt_L_times_sup_max_distance", "one_variation",
                   "two_variation_grid", "two_variation_exact", "displacement_qv", "one_variation_init",
                   "two_variation_grid_init", "final_loss"});
  std::vector<double> L, rate, maxdev, v1, v2, v2_exact, qv;
  double min_r2 = 1;
  nlohmann::json per_depth = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const X11Result& r = results[i];
    const double d = double(c_.depths[i]);
    for (std::size_t t = 0; t < r.loss.size(); ++t)
      iterations.add_row({(long long)c_.depths[i], (long long)t, r.loss[t], r.max_distance[t], r.max_increment[t]});
    const double sup_dev = *std::max_element(r.max_distance.begin(), r.max_distance.end());
    depths.add_row({(long long)c_.depths[i], r.rate.rate, r.rate.r_squared, sup_dev, std::sqrt(d) * sup_dev,
                    r.one_variation, r.two_variation_grid, r.two_variation_exact, r.displacement_qv,
                    r.one_variation_init, r.two_variation_grid_init, r.loss.back()});
    per_depth.push_back({{"depth", c_.depths[i]}, {"rate", r.rate.rate}, {"contraction", r.rate.contraction},
                         {"rate_r_squared", r.rate.r_squared}, {"rate_window", r.rate.window},
                         {"second_half_rate", r.tail_rate.rate}, {"second_half_r_squared", r.tail_rate.r_squared},
                         {"initial_loss", r.loss.front()}, {"final_loss", r.loss.back()},
                         {"final_max_layer_increment", r.max_increment.back()},
                         {"sup_max_distance_to_init", sup_dev}, {"sqrt_L_times_sup_max_distance", std::sqrt(d) * sup_dev},
                         {"one_variation", r.one_variation}, {"two_variation_grid", r.two_variation_grid},
                         {"two_variation_exact", r.two_variation_exact}, {"displacement_qv", r.displacement_qv}});
    L.push_back(d);
    rate.push_back(r.rate.rate);
    maxdev.push_back(sup_dev);
    v1.push_back(r.one_variation);
    v2.push_back(r.two_variation_grid);
    v2_exact.push_back(r.two_variation_exact);
    qv.push_back(r.displacement_qv);
    min_r2 = std::min(min_r2, r.rate.r_squared);
  }
  run.write_csv("iterations.csv", iterations);
  run.write_csv("depths.csv", depths);
  run.summary()["per_depth"] = per_depth;
  run.summary()["increment_norm"] = "max_k |A_{k+1} - A_k|_F (Frobenius)";
  const double rate_cv = sample_std(rate) / mean(rate);
  run.summary()["rate_coefficient_of_variation"] = rate_cv;
  run.summary()["min_rate_r_squared"] = min_r2;
  if (n >= 2) {
    run.summary()["fit_max_distance_vs_depth"] = fit_json(nn::log_log_fit(L, maxdev));
    run.summary()["fit_two_variation_grid_vs_depth"] = fit_json(nn::log_log_fit(L, v2));
    run.summary()["fit_two_variation_exact_vs_depth"] = fit_json(nn::log_log_fit(L, v2_exact));
    run.summary()["fit_one_variation_vs_depth"] = fit_json(nn::log_log_fit(L, v1));
    run.summary()["fit_displacement_qv_vs_depth"] = fit_json(nn::log_log_fit(L, qv));
    // papers.md 7, X11 pass criteria.
    run.criterion("coefficient of variation of the rate over L", rate_cv, 0, 0.2, "P2: rate independent of L");
    run.criterion("min R^2 of the linear-rate fits", min_r2, 0.98, 1, "linear convergence");
    run.criterion("slope of sup_n max_k |A_k(n) - A_k(0)|", nn::log_log_fit(L, maxdev).slope, -0.6, -0.4,
                  "O(L^{-1/2})");
    run.criterion("slope of the grid 2-variation of W", nn::log_log_fit(L, v2).slope, -0.05, 0.05,
                  "bounded in L (grid sum, papers.md 6.4)");
    run.criterion("slope of the 1-variation of W", nn::log_log_fit(L, v1).slope, 0.45, 0.55, "grows like sqrt(L)");
    run.note("2-variation: the criterion uses the grid sum (sum_k |W_{k+1} - W_k|^2)^{1/2} as papers.md 6.4 does; "
             "the exact sup over partitions is reported as two_variation_exact");
  } else {
    run.note("one depth only: no criteria on the depth dependence were checked");
  }
}

}  // namespace

std::unique_ptr<Experiment> make_x11_gd_convergence() { return std::make_unique<X11>(); }

}  // namespace tapelab::experiments
