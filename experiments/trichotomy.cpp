#include "experiments/trichotomy.hpp"

#include <cmath>
#include <sstream>

#include "experiments/common.hpp"
#include "experiments/p5_res3.hpp"
#include "experiments/progress.hpp"
#include "experiments/sweep.hpp"
#include "nn/random.hpp"

namespace tapelab::experiments {
namespace {

std::string beta_key(double beta) {
  std::ostringstream s;
  s << "beta_" << beta;
  return s.str();
}

}  // namespace

void TrichotomySweep::validate() const {
  require_increasing("--depths", depths);
  if (depths.size() < 2) throw std::invalid_argument("--depths: a slope needs at least two depths");
  require_positive("--betas", betas);
  require_at_least("--seeds", seeds, 2);
  require_at_least("--width", width, 1);
  require_at_least("--input-dim", input_dim, 1);
  require_at_least("--bootstrap", bootstrap, 10);
  parse_activation_flag(activation);
  parse_precision_flag(precision);
}

void run_trichotomy(Run& run, const TrichotomySweep& sweep, bool check_hidden, const std::string& prefix) {
  const std::size_t n_depth = sweep.depths.size(), n_beta = sweep.betas.size(), n_seed = std::size_t(sweep.seeds);
  // result[(d * n_seed + s) * n_beta + b]: network s at depth d, measured at every β (one weight draw).
  std::vector<Res3Measurement> result(n_depth * n_seed * n_beta);
  double total_work = 0;
  for (int L : sweep.depths) total_work += double(L) * double(n_seed);
  Progress progress(run.info().id, n_depth * n_seed, "networks", total_work);
  parallel_for(n_depth * n_seed, run.threads(), [&](std::size_t job) {
    // Deepest first: the long jobs start early and the two threads finish together.
    const std::size_t d = n_depth - 1 - job / n_seed, s = job % n_seed;
    const int L = sweep.depths[d];
    Res3Config rc{.input_dim = sweep.input_dim, .width = sweep.width, .hidden = sweep.width, .output_dim = 1,
                  .depth = std::size_t(L), .activation = parse_activation_flag(sweep.activation),
                  .single_precision = sweep.precision == "float"};
    std::vector<double> alphas;
    for (double beta : sweep.betas) alphas.push_back(std::pow(double(L), -beta));
    const auto m = measure_res3_at_init(rc, run.seed() ^ (sweep.family * 0x9E3779B97F4A7C15ull), /*network=*/d * n_seed + s, alphas, /*with_gradients=*/true);
    for (std::size_t b = 0; b < n_beta; ++b) result[(d * n_seed + s) * n_beta + b] = m[b];
    progress.advance(double(L));
  });
  progress.finish();

  CsvTable networks({"beta", "depth", "seed", "r_h", "r_g", "hidden_ratio", "gradient_ratio"});
  CsvTable points({"beta", "depth", "median_r_h", "q25_r_h", "q75_r_h", "mean_square_r_h", "median_r_g", "q25_r_g",
                   "q75_r_g", "mean_square_r_g", "expected_mean_square"});
  nn::Rng bootstrap_rng(run.seed(), 0xB007);
  std::vector<double> x(sweep.depths.begin(), sweep.depths.end());
  for (std::size_t b = 0; b < n_beta; ++b) {
    const double beta = sweep.betas[b];
    std::vector<std::vector<double>> rh_by_seed(n_seed, std::vector<double>(n_depth)),
        rg_by_seed(n_seed, std::vector<double>(n_depth));
    nlohmann::json per_depth = nlohmann::json::array();
    for (std::size_t d = 0; d < n_depth; ++d) {
      const int L = sweep.depths[d];
      std::vector<double> rh(n_seed), rg(n_seed);
      for (std::size_t s = 0; s < n_seed; ++s) {
        const Res3Measurement& m = result[(d * n_seed + s) * n_beta + b];
        rh[s] = rh_by_seed[s][d] = m.hidden_difference;
        rg[s] = rg_by_seed[s][d] = m.gradient_difference;
        networks.add_row({beta, (long long)L, (long long)s, m.hidden_difference, m.gradient_difference,
                          m.hidden_ratio, m.gradient_ratio});
      }
      // [DER] E||h_L||² = (1 + α²/2)^L ||h_0||² for ReLU with variance-1/width weights.
      const double alpha = std::pow(double(L), -beta);
      const double expected = std::pow(1.0 + alpha * alpha / 2.0, double(L)) - 1.0;
      points.add_row({beta, (long long)L, median(rh), quantile(rh, 0.25), quantile(rh, 0.75), mean_of_squares(rh),
                      median(rg), quantile(rg, 0.25), quantile(rg, 0.75), mean_of_squares(rg), expected});
      per_depth.push_back({{"depth", L}, {"median_r_h", median(rh)}, {"mean_square_r_h", mean_of_squares(rh)},
                           {"median_r_g", median(rg)}, {"mean_square_r_g", mean_of_squares(rg)},
                           {"expected_mean_square_relu", expected}});
    }
    // Heavy tails near explosion: fit the median across seeds (papers.md 6.1), CI by resampling networks.
    const nn::BootstrapSlope fit_h =
        nn::log_log_fit_bootstrap(x, rh_by_seed, bootstrap_rng, std::size_t(sweep.bootstrap), 0.95, true);
    const nn::BootstrapSlope fit_g =
        nn::log_log_fit_bootstrap(x, rg_by_seed, bootstrap_rng, std::size_t(sweep.bootstrap), 0.95, true);
    const auto& last = per_depth.back();
    run.summary()[prefix + beta_key(beta)] = {{"beta", beta}, {"slope_median_r_h", fit_json(fit_h)},
                                     {"slope_median_r_g", fit_json(fit_g)}, {"per_depth", per_depth}};

    // papers.md 7, X1 pass criteria, for r_h and r_g alike.
    const int Lmax = sweep.depths.back();
    for (const char* q : {"r_h", "r_g"}) {
      const bool hidden = std::string(q) == "r_h";
      if (hidden && !check_hidden) continue;
      const double slope = (hidden ? fit_h : fit_g).fit.slope;
      const double med = last[hidden ? "median_r_h" : "median_r_g"];
      const double msq = last[hidden ? "mean_square_r_h" : "mean_square_r_g"];
      const std::string at = "(L=" + std::to_string(Lmax) + ")";
      if (beta == 1.0) {
        run.criterion("beta=1: slope of median " + std::string(q), slope, -0.6, -0.4,
                      "identity regime: r ~ (2L)^{-1/2}");
      } else if (beta == 0.5) {
        run.criterion("beta=1/2: slope of median " + std::string(q), slope, -0.1, 0.1, "critical scale: flat in L");
        run.criterion("beta=1/2: mean " + std::string(q) + "^2 " + at, msq, 0.45, 0.85,
                      "[DER] -> e^{1/2} - 1 = 0.649");
      } else if (beta == 0.25) {
        run.criterion("beta=1/4: median " + std::string(q) + " " + at, med, 100.0, INFINITY, "explosion");
        run.criterion("beta=1/4: slope of median " + std::string(q), slope, 1.0, INFINITY, "explosion");
      }
    }
  }
  for (double beta : {0.25, 0.5, 1.0}) {
    bool present = false;
    for (double b : sweep.betas) present = present || b == beta;
    if (!present) run.note("beta = " + std::to_string(beta) + " not in --betas: its criteria were not checked");
  }
  if (sweep.depths.back() != 1000)
    run.note("the criteria at L = 1000 were evaluated at the largest depth, L = " + std::to_string(sweep.depths.back()));
  run.write_csv(prefix + "networks.csv", networks);
  run.write_csv(prefix + "points.csv", points);
}

}  // namespace tapelab::experiments
