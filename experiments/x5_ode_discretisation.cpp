// X5: a ResNet with Lipschitz weights is an Euler discretisation of a neural ODE (P4 Prop. 2; papers.md 4.4, 7).
//
//   ResNet:  h_{k+1} = h_k + (1 / (L sqrt m)) V_{k+1} σ(W_{k+1} h_k / sqrt q),  V_k = 𝒱(k/L), W_k = 𝒲(k/L)
//   ODE:     dH/ds = (1 / sqrt m) 𝒱(s) σ(𝒲(s) H / sqrt q),  H(0) = x,   s in [0, 1]
// with 𝒱(s) = V0 cos(2πs), 𝒲(s) = W0 + s W1 (entries of V0, W0, W1 i.i.d. N(0, weight_std²)). Prop. 2:
// sup_x |F^L(x) - F(x)| <= C / L, i.e. a log-log slope of -1. The limit F is computed with RK4 (error at
// rounding level); papers.md's alternative reference, a ResNet of depth 2^14, is reported beside it.
// Control: a rough path (V_k, W_k i.i.d. in k, a fresh draw for every L) has no ODE limit; [DER] with the 1/L
// scale the residual sum is a mean of L independent zero-mean terms, so F^L(x) -> x like L^{-1/2}, and the
// distance to an independent reference draw falls like L^{-1/2} (slope -1/2), not like 1/L.
#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/experiment.hpp"
#include "experiments/ode.hpp"
#include "experiments/progress.hpp"
#include "experiments/sweep.hpp"
#include "kernels/activations.hpp"
#include "kernels/gemm.hpp"
#include "nn/random.hpp"
#include "nn/residual_network.hpp"

namespace tapelab::experiments {
namespace {

struct X5Config {
  std::vector<int> depths = powers_of_two(2, 12);
  int width = 16;   // q = d = d'
  int hidden = 32;  // m
  int inputs = 64;
  std::string activation = "gelu_erf";  // torch.nn.GELU()
  std::string scaling = "paper";
  double weight_std = 1.0;
  int reference_steps = 4096;           // RK4
  int resnet_reference_depth = 16384;   // papers.md: "reference L = 2^14"
};

class X5 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {"X5", "ResNet to neural ODE discretisation rate", "P4 Prop. 2",
            "Lipschitz weights V_k = V(k/L), W_k = W(k/L): sup_x |F^L(x) - F(x)| ~ C/L (slope -1); "
            "an i.i.d. (rough) weight path does not converge at that rate"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "depths L", std::optional(powers_of_two(2, 10)));
    f.add("--width", c_.width, "q = d = d' (P4: 16)");
    f.add("--hidden", c_.hidden, "m (P4: 32)");
    f.add("--inputs", c_.inputs, "inputs x ~ N(0, I) in the sup", std::optional(32));
    f.add("--activation", c_.activation, "activation: " + activation_names());
    f.add("--scaling", c_.scaling, "paper: 1/(L sqrt m) and 1/sqrt q (P4 eq. 3); code: 1/L only (authors' code)")
        ->check(CLI::IsMember({"paper", "code"}));
    f.add("--weight-std", c_.weight_std, "std of the entries of V0, W0, W1");
    f.add("--reference-steps", c_.reference_steps, "RK4 steps for the limit F", std::optional(1024));
    f.add("--resnet-reference-depth", c_.resnet_reference_depth,
          "depth of the ResNet reference (papers.md 2^14), compared with RK4 and used for the rough path",
          std::optional(4096));
  }
  void validate() const override {
    require_increasing("--depths", c_.depths);
    if (c_.depths.size() < 2) throw std::invalid_argument("--depths: a slope needs at least two depths");
    require_at_least("--width", c_.width, 1);
    require_at_least("--hidden", c_.hidden, 1);
    require_at_least("--inputs", c_.inputs, 1);
    require_at_least("--reference-steps", c_.reference_steps, 1);
    require_at_least("--resnet-reference-depth", c_.resnet_reference_depth, 1);
    if (!(c_.weight_std > 0)) throw std::invalid_argument("--weight-std: must be positive");
    parse_activation_flag(c_.activation);
  }
  void run(Run& run) override;

 private:
  X5Config c_;
};

struct SmoothWeights {
  nn::Matrix V0, W0, W1;
  // 𝒱(s) = V0 cos(2πs), 𝒲(s) = W0 + s W1
  void at(double s, nn::Matrix& V, nn::Matrix& W) const {
    const double c = std::cos(2.0 * std::numbers::pi * s);
    for (index_t i = 0; i < V.size(); ++i) V.data()[i] = c * V0.data()[i];
    for (index_t i = 0; i < W.size(); ++i) W.data()[i] = W0.data()[i] + s * W1.data()[i];
  }
};

// F^L(x) of the P4 network with the given weight paths (forward only), columns = inputs.
nn::Matrix resnet_output(const nn::ResidualNetworkConfig& config, const nn::WeightPath& V, const nn::WeightPath& W,
                         const nn::Matrix& x) {
  nn::Rng unused(0);
  nn::ResidualNetwork net(config, unused);
  net.set_layer_weights("V", V);
  net.set_layer_weights("W", W);
  Tape<double> tape;
  NoGradGuard no_grad;
  return nn::Matrix(net.forward(tape, x).value());
}

// max over columns of the Euclidean distance.
double sup_distance(const nn::Matrix& a, const nn::Matrix& b) {
  double worst = 0;
  for (index_t j = 0; j < a.cols(); ++j) {
    double s = 0;
    for (index_t i = 0; i < a.rows(); ++i) s += (a(i, j) - b(i, j)) * (a(i, j) - b(i, j));
    worst = std::max(worst, std::sqrt(s));
  }
  return worst;
}

void X5::run(Run& run) {
  const index_t q = c_.width, m = c_.hidden;
  const bool paper = c_.scaling == "paper";
  const kernels::Activation act = parse_activation_flag(c_.activation);
  nn::Rng weight_rng(run.seed(), 1), input_rng(run.seed(), 2);
  const SmoothWeights smooth{nn::gaussian(weight_rng, q, m, c_.weight_std), nn::gaussian(weight_rng, m, q, c_.weight_std),
                             nn::gaussian(weight_rng, m, q, c_.weight_std)};
  const nn::Matrix x = nn::gaussian(input_rng, q, c_.inputs, 1.0);

  auto config_for = [&](std::size_t L) {
    nn::ResidualNetworkConfig cfg = nn::ResidualNetworkConfig::p4(q, q, m, q, L, act);
    cfg.p4_authors_scaling = !paper;
    return cfg;
  };
  // P4 indexing: layer j = 1..L uses s = j / L.
  auto smooth_paths = [&](std::size_t L, nn::WeightPath& V, nn::WeightPath& W) {
    V.assign(L, nn::Matrix(q, m));
    W.assign(L, nn::Matrix(m, q));
    for (std::size_t k = 0; k < L; ++k) smooth.at(double(k + 1) / double(L), V[k], W[k]);
  };
  auto rough_paths = [&](std::size_t L, nn::WeightPath& V, nn::WeightPath& W) {
    nn::Rng rng(run.seed(), 1000 + L);  // a fresh i.i.d. draw for every depth
    V.clear();
    W.clear();
    for (std::size_t k = 0; k < L; ++k) {
      V.push_back(nn::gaussian(rng, q, m, c_.weight_std));
      W.push_back(nn::gaussian(rng, m, q, c_.weight_std));
    }
  };

  // The limit F(x) by RK4: dH/ds = c_out 𝒱(s) σ(c_in 𝒲(s) H).
  const double c_out = paper ? 1.0 / std::sqrt(double(m)) : 1.0, c_in = paper ? 1.0 / std::sqrt(double(q)) : 1.0;
  nn::Matrix F = x;
  {
    nn::Matrix V(q, m), W(m, q), Z(m, x.cols()), A(m, x.cols());
    rk4(F, 0.0, 1.0, c_.reference_steps, [&](double s, const nn::Matrix& H, nn::Matrix& dH) {
      smooth.at(s, V, W);
      kernels::gemm(Trans::N, Trans::N, m, H.cols(), q, c_in, W.data(), q, H.data(), H.cols(), 0.0, Z.data(), Z.cols());
      kernels::activation_forward(act, m, H.cols(), Z.data(), Z.cols(), A.data(), A.cols());
      kernels::gemm(Trans::N, Trans::N, q, H.cols(), m, c_out, V.data(), m, A.data(), A.cols(), 0.0, dH.data(), dH.cols());
    });
  }

  // Jobs: every depth smooth and rough, plus the two ResNet references; deepest first.
  struct Job {
    std::size_t depth;
    bool rough;
  };
  std::vector<Job> jobs;
  for (bool rough : {false, true}) jobs.push_back({std::size_t(c_.resnet_reference_depth), rough});
  for (auto it = c_.depths.rbegin(); it != c_.depths.rend(); ++it)
    for (bool rough : {false, true}) jobs.push_back({std::size_t(*it), rough});
  std::vector<nn::Matrix> outputs(jobs.size());
  double total = 0;
  for (const Job& j : jobs) total += double(j.depth);
  Progress progress("X5", jobs.size(), "networks", total);
  parallel_for(jobs.size(), run.threads(), [&](std::size_t i) {
    nn::WeightPath V, W;
    if (jobs[i].rough) rough_paths(jobs[i].depth, V, W);
    else smooth_paths(jobs[i].depth, V, W);
    outputs[i] = resnet_output(config_for(jobs[i].depth), V, W, x);
    progress.advance(double(jobs[i].depth));
  });
  progress.finish();

  const nn::Matrix& resnet_reference = outputs[0];
  const nn::Matrix& rough_reference = outputs[1];
  CsvTable table({"depth", "smooth_error_vs_rk4", "rough_error_vs_reference", "rough_distance_to_input"});
  std::vector<double> depths, smooth_err, rough_err;
  for (std::size_t i = 2; i < jobs.size(); i += 2) {
    const double L = double(jobs[i].depth);
    const double e_smooth = sup_distance(outputs[i], F), e_rough = sup_distance(outputs[i + 1], rough_reference);
    depths.insert(depths.begin(), L);
    smooth_err.insert(smooth_err.begin(), e_smooth);
    rough_err.insert(rough_err.begin(), e_rough);
  }
  for (std::size_t k = 0; k < depths.size(); ++k) {
    const std::size_t i = 2 + 2 * (depths.size() - 1 - k);
    table.add_row({(long long)depths[k], smooth_err[k], rough_err[k], sup_distance(outputs[i + 1], x)});
  }
  run.write_csv("errors.csv", table);

  // The slopes are fits on log scales, so every error must be positive and finite. Weights far too large
  // saturate the activations (every depth then gives the ODE's output exactly: error 0) or overflow: say so
  // here, in the experiment's terms, rather than as a failed fit.
  auto check_errors = [&](const char* path, const std::vector<double>& err) {
    for (std::size_t k = 0; k < err.size(); ++k)
      if (!(err[k] > 0 && std::isfinite(err[k]))) {
        std::ostringstream msg;
        msg << "the " << path << " path's sup error at L = " << depths[k] << " is " << err[k]
            << " (errors.csv), but a slope needs positive, finite errors: saturated activations?"
            << " (--weight-std " << c_.weight_std << ")";
        throw std::runtime_error(msg.str());
      }
  };
  check_errors("smooth", smooth_err);
  check_errors("rough", rough_err);
  const nn::LinearFit smooth_fit = nn::log_log_fit(depths, smooth_err);
  const nn::LinearFit rough_fit = nn::log_log_fit(depths, rough_err);
  const double resnet_ref_vs_rk4 = sup_distance(resnet_reference, F);
  run.summary()["smooth_path"] = {{"fit_error_vs_depth", fit_json(smooth_fit)},
                                  {"error_at_largest_depth", smooth_err.back()},
                                  {"C_estimate_error_times_L", smooth_err.back() * depths.back()}};
  run.summary()["rough_path"] = {{"fit_error_vs_depth", fit_json(rough_fit)}, {"expected_slope_der", -0.5}};
  run.summary()["resnet_reference"] = {{"depth", c_.resnet_reference_depth},
                                       {"sup_distance_to_rk4", resnet_ref_vs_rk4},
                                       {"times_depth", resnet_ref_vs_rk4 * double(c_.resnet_reference_depth)}};
  run.summary()["limit_norm"] = sup_distance(F, nn::Matrix(F.rows(), F.cols()));
  run.criterion("smooth path: slope of sup error vs L", smooth_fit.slope, -1.1, -0.9, "P4 Prop. 2: C / L");
  run.criterion("rough path: slope of sup error vs L", rough_fit.slope, -0.75, INFINITY,
                "no convergence at the ODE rate ([DER] -1/2; papers.md: ~0 or no limit)");
}

}  // namespace

std::unique_ptr<Experiment> make_x5_ode_discretisation() { return std::make_unique<X5>(); }

}  // namespace tapelab::experiments
