// X12: the backward pass has a limit too (P3; papers.md 2, 7).
//
//   forward   h_{k+1} = h_k + (1/L) σ(A_k h_k),  A_k = 𝒜(k/L),  𝒜(s) = A0 + sin(2πs) A1  (entries N(0, 1/d))
//   adjoint   p_k = dl/dh_k for l = <c, h_L> per input, computed by tapelab's reverse mode (retain_grad on h_k)
//   limit     -dp/ds = (∂f/∂H)^T p = 𝒜(s)^T (σ'(𝒜(s) H(s)) ⊙ p),  p(1) = c,   dH/ds = σ(𝒜(s) H)
// (for σ = identity: -dp/ds = 𝒜(s)^T p, P3's backward ODE with σ'(0) = 1). The discrete adjoint is the
// Euler scheme of this ODE run backwards, so max_k |p_k - p(k/L)| = O(1/L): slope -1. The reference solves
// the forward ODE by RK4 on the half-grid and the adjoint by RK4 on the grid. This validates the autodiff
// engine against an analytic limit. Second part: the gradient trichotomy r_g of X1, re-checked on new networks.
#include <cmath>
#include <numbers>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/experiment.hpp"
#include "experiments/ode.hpp"
#include "experiments/sweep.hpp"
#include "experiments/trichotomy.hpp"
#include "kernels/activations.hpp"
#include "kernels/gemm.hpp"
#include "nn/random.hpp"

namespace tapelab::experiments {
namespace {

struct X12Config {
  std::vector<int> depths = powers_of_two(2, 12);
  int width = 16;
  int inputs = 8;
  std::string activation = "identity";
  int reference_steps = 4096;
  bool skip_trichotomy = false;
  TrichotomySweep trichotomy{.depths = {10, 100, 1000}, .seeds = 30, .bootstrap = 500, .family = 12};
};

struct SmoothMatrixPath {
  nn::Matrix A0, A1;
  void at(double s, nn::Matrix& A) const {
    const double w = std::sin(2.0 * std::numbers::pi * s);
    for (index_t i = 0; i < A.size(); ++i) A.data()[i] = A0.data()[i] + w * A1.data()[i];
  }
};

class X12 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {"X12", "backward (adjoint) limit and gradient trichotomy", "P3; P5 Fig. 3",
            "the discrete adjoint dl/dh_k of a smooth-weight ResNet converges to the backward ODE at rate 1/L "
            "(slope -1); r_g follows the beta trichotomy"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "depths L (each must divide --reference-steps)", std::optional(powers_of_two(2, 10)));
    f.add("--width", c_.width, "d");
    f.add("--inputs", c_.inputs, "inputs x ~ N(0, I) (columns)");
    f.add("--activation", c_.activation, "activation: " + activation_names());
    f.add("--reference-steps", c_.reference_steps, "RK4 steps of the adjoint ODE", std::optional(1024));
    f.add_switch("--skip-trichotomy", c_.skip_trichotomy, "only the adjoint part");
    f.add("--trichotomy-depths", c_.trichotomy.depths, "depths of the r_g re-check");
    f.add("--trichotomy-seeds", c_.trichotomy.seeds, "networks per point of the r_g re-check", std::optional(12));
    f.add("--trichotomy-width", c_.trichotomy.width, "width of the r_g re-check networks");
    f.add("--trichotomy-precision", c_.trichotomy.precision, "float or double, for the r_g re-check networks");
  }
  void validate() const override {
    require_increasing("--depths", c_.depths);
    if (c_.depths.size() < 2) throw std::invalid_argument("--depths: a slope needs at least two depths");
    require_at_least("--width", c_.width, 1);
    require_at_least("--inputs", c_.inputs, 1);
    require_at_least("--reference-steps", c_.reference_steps, 1);
    for (int L : c_.depths)
      if (c_.reference_steps % L != 0)
        throw std::invalid_argument("--depths: " + std::to_string(L) + " does not divide --reference-steps " +
                                    std::to_string(c_.reference_steps) + " (p(k/L) must be on the RK4 grid)");
    parse_activation_flag(c_.activation);
    if (!c_.skip_trichotomy) c_.trichotomy.validate();
  }
  void run(Run& run) override;

 private:
  X12Config c_;
};

void X12::run(Run& run) {
  const index_t d = c_.width, B = c_.inputs;
  const kernels::Activation act = parse_activation_flag(c_.activation);
  nn::Rng rng(run.seed(), 1);
  const double std_entry = 1.0 / std::sqrt(double(d));
  const SmoothMatrixPath path{nn::gaussian(rng, d, d, std_entry), nn::gaussian(rng, d, d, std_entry)};
  const nn::Matrix x = nn::gaussian(rng, d, B, 1.0);
  nn::Matrix c = nn::gaussian(rng, d, 1, 1.0);
  nn::Matrix seed_grad(d, B);  // l = sum_i <c, h_L(x_i)>: every column's seed is c
  for (index_t i = 0; i < d; ++i)
    for (index_t j = 0; j < B; ++j) seed_grad(i, j) = c(i, 0);

  // Reference: H on the half-grid s = j / (2N) by RK4 with 2N steps, then p on the grid by RK4 backwards.
  const int N = c_.reference_steps;
  std::vector<nn::Matrix> H;
  H.reserve(std::size_t(2 * N + 1));
  {
    nn::Matrix A(d, d), Z(d, B), state = x;
    rk4(state, 0.0, 1.0, 2 * N,
        [&](double s, const nn::Matrix& Y, nn::Matrix& dY) {
          path.at(s, A);
          kernels::gemm(Trans::N, Trans::N, d, B, d, 1.0, A.data(), d, Y.data(), B, 0.0, Z.data(), B);
          kernels::activation_forward(act, d, B, Z.data(), B, dY.data(), B);
        },
        [&](int, double, const nn::Matrix& Y) { H.push_back(Y); });
  }
  std::vector<nn::Matrix> P(std::size_t(N + 1));  // P[j] = p(j / N)
  {
    nn::Matrix A(d, d), Z(d, B), D(d, B), DP(d, B), state = seed_grad;
    rk4(state, 1.0, 0.0, N,
        [&](double s, const nn::Matrix& Y, nn::Matrix& dY) {  // dp/ds = -A^T (σ'(A H) ⊙ p)
          const long long j = std::llround(s * 2.0 * N);
          path.at(s, A);
          const nn::Matrix& h = H[std::size_t(j)];
          kernels::gemm(Trans::N, Trans::N, d, B, d, 1.0, A.data(), d, h.data(), B, 0.0, Z.data(), B);
          kernels::activation_derivative(act, d, B, Z.data(), B, D.data(), B);
          for (index_t i = 0; i < d * B; ++i) DP.data()[i] = D.data()[i] * Y.data()[i];
          kernels::gemm(Trans::T, Trans::N, d, B, d, -1.0, A.data(), d, DP.data(), B, 0.0, dY.data(), B);
        },
        [&](int i, double, const nn::Matrix& Y) { P[std::size_t(N - i)] = Y; });
  }

  // The discrete adjoint of every depth, from tapelab's backward pass.
  const std::size_t n = c_.depths.size();
  std::vector<double> errors(n), relative(n);
  double p_norm = 0;
  for (index_t j = 0; j < B; ++j) {
    double s = 0;
    for (index_t i = 0; i < d; ++i) s += P[0](i, j) * P[0](i, j);
    p_norm = std::max(p_norm, std::sqrt(s));
  }
  parallel_for(n, run.threads(), [&](std::size_t i) {
    const int L = c_.depths[i];
    std::vector<nn::Matrix> A(std::size_t(L), nn::Matrix(d, d));
    for (int k = 0; k < L; ++k) path.at(double(k) / double(L), A[std::size_t(k)]);
    Tape<double> tape;
    std::vector<Var<double>> h{tape.variable(x)};
    for (int k = 0; k < L; ++k) {
      h.push_back(residual_step(h.back(), ResidualStep<double>{.W = tape.constant(A[std::size_t(k)]),
                                                              .alpha = 1.0 / double(L), .act = act}));
      h.back().retain_grad();
    }
    tape.backward(h.back(), seed_grad);
    double worst = 0;
    for (int k = 0; k <= L; ++k) {
      const TensorView<const double> p = h[std::size_t(k)].grad();
      const nn::Matrix& ref = P[std::size_t(k * (N / L))];
      for (index_t j = 0; j < B; ++j) {
        double s = 0;
        for (index_t r = 0; r < d; ++r) s += (p(r, j) - ref(r, j)) * (p(r, j) - ref(r, j));
        worst = std::max(worst, std::sqrt(s));
      }
    }
    errors[i] = worst;
    relative[i] = worst / p_norm;
  });

  CsvTable table({"depth", "max_adjoint_error", "relative_error"});
  std::vector<double> L;
  for (std::size_t i = 0; i < n; ++i) {
    table.add_row({(long long)c_.depths[i], errors[i], relative[i]});
    L.push_back(c_.depths[i]);
  }
  run.write_csv("adjoint_errors.csv", table);
  CsvTable ode({"s", "input", "coordinate", "p_reference"});
  for (int j = 0; j <= N; j += std::max(1, N / 256))
    for (index_t r = 0; r < std::min<index_t>(d, 4); ++r)
      ode.add_row({double(j) / N, 0LL, (long long)r, P[std::size_t(j)](r, 0)});
  run.write_csv("adjoint_reference.csv", ode);
  const nn::LinearFit fit = nn::log_log_fit(L, errors);
  run.summary()["adjoint"] = {{"fit_error_vs_depth", fit_json(fit)}, {"max_norm_p0", p_norm},
                              {"error_times_L_at_largest_depth", errors.back() * L.back()}};
  run.criterion("adjoint error slope vs L", fit.slope, -1.1, -0.9, "P3: discrete adjoint -> backward ODE, O(1/L)");

  if (!c_.skip_trichotomy) run_trichotomy(run, c_.trichotomy, /*check_hidden=*/false, "trichotomy_");
}

}  // namespace

std::unique_ptr<Experiment> make_x12_adjoint_limit() { return std::make_unique<X12>(); }

}  // namespace tapelab::experiments
