// X8: ReLU destroys depth-smoothness (P4 appendix, "ReLU counter-example"; papers.md 4.4, 7).
//
//   d = 1, depth 2L:  h_{k+1} = h_k + (1 / (2L)) σ(w_{k+1} h_k),  k = 0..2L-1,  loss (h_{2L} - C x)^2
//   init w_k(0) = (-1)^k / (2L) (k = 1..2L), one data point x > 0, C > 1, GD with lr 0.05 * 2L.
// With ReLU the odd weights (negative) see a negative ReLU input and never move, while the even weights all
// receive the same gradient and converge to w* with (1 + w*/(2L))^L = C, i.e. w* = 2L (C^{1/L} - 1) >= 2 log C:
// neighbouring weights differ by Ω(1) however deep the network. Control: the same with GELU, whose
// derivative is non-zero for negative inputs; the increments then stay O(1/L) (papers.md: L * max increment <= 10).
#include <cmath>

#include "autodiff/autodiff.hpp"
#include "experiments/common.hpp"
#include "experiments/experiment.hpp"
#include "experiments/sweep.hpp"
#include "nn/optim.hpp"

namespace tapelab::experiments {
namespace {

struct X8Config {
  std::vector<int> depths = {8, 32, 128};  // L (the network has 2L layers)
  double C = 2.0;
  double x = 1.0;
  double lr_per_layer = 0.05;  // lr = 0.05 * 2L
  long long max_iterations = 200000;
  double loss_tolerance = 1e-28;  // "until convergence": |h_2L - C x| <= 1e-14
  std::string control_activation = "gelu_erf";
};

struct X8Result {
  std::vector<double> w0, w;  // initial and final weights w_1..w_2L
  long long iterations = 0;
  double final_loss = 0;
};

class X8 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {"X8", "the ReLU counter-example and its GELU control", "P4 appendix",
            "ReLU, w_k(0) = (-1)^k/(2L): odd weights never move, even ones -> w* = 2L(C^{1/L} - 1) >= 2 log C, so "
            "increments stay Omega(1); with GELU they stay O(1/L)"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "L (the network has 2L layers)");
    f.add("--C", c_.C, "target multiplier C > 1 (data point (x, C x))");
    f.add("--x", c_.x, "the input x > 0");
    f.add("--lr-per-layer", c_.lr_per_layer, "GD learning rate divided by the depth 2L (P4: 0.05)");
    f.add("--max-iterations", c_.max_iterations, "GD iterations at most");
    f.add("--loss-tolerance", c_.loss_tolerance, "stop when the loss is at most this");
    f.add("--control-activation", c_.control_activation, "the smooth control: " + activation_names());
  }
  void validate() const override {
    require_increasing("--depths", c_.depths);
    if (!(c_.C > 1)) throw std::invalid_argument("--C: must be > 1");
    if (!(c_.x > 0)) throw std::invalid_argument("--x: must be > 0");
    if (!(c_.lr_per_layer > 0)) throw std::invalid_argument("--lr-per-layer: must be positive");
    require_at_least("--max-iterations", c_.max_iterations, 1);
    parse_activation_flag(c_.control_activation);
  }
  void run(Run& run) override;

 private:
  X8Result train(int L, kernels::Activation act) const;
  X8Config c_;
};

X8Result X8::train(int L, kernels::Activation act) const {
  const int layers = 2 * L;
  std::vector<nn::Param> w;
  w.reserve(std::size_t(layers));
  X8Result r;
  for (int k = 1; k <= layers; ++k) {
    const double w0 = (k % 2 == 0 ? 1.0 : -1.0) / double(layers);  // (-1)^k / (2L)
    w.emplace_back(Tensor<double>::filled(1, 1, w0));
    r.w0.push_back(w0);
  }
  nn::ParamGroup group{{}, c_.lr_per_layer * double(layers)};
  for (nn::Param& p : w) group.params.push_back(&p);
  nn::GradientDescent gd({group});
  const Tensor<double> x = Tensor<double>::filled(1, 1, c_.x), target = Tensor<double>::filled(1, 1, c_.C * c_.x);
  Tape<double> tape;
  for (r.iterations = 0; r.iterations < c_.max_iterations; ++r.iterations) {
    tape.clear();
    gd.zero_grad();
    Var<double> h = tape.constant(x);
    for (nn::Param& p : w)  // h + (1/(2L)) σ(w h): the fused step with V = identity (1 x 1)
      h = residual_step(h, ResidualStep<double>{.W = tape.param(p), .alpha = 1.0 / double(layers), .act = act});
    const Var<double> loss = squared_norm(sub(h, tape.constant(target)));
    r.final_loss = loss.item();
    if (!std::isfinite(r.final_loss))
      throw std::runtime_error("X8: the loss became " + std::to_string(r.final_loss) + " at iteration " +
                               std::to_string(r.iterations) + " (L = " + std::to_string(L) + ")");
    if (r.final_loss <= c_.loss_tolerance) break;
    tape.backward(loss);
    gd.step();
  }
  for (const nn::Param& p : w) r.w.push_back(p.value(0, 0));
  return r;
}

double max_increment(const std::vector<double>& w) {
  double m = 0;
  for (std::size_t k = 0; k + 1 < w.size(); ++k) m = std::max(m, std::abs(w[k + 1] - w[k]));
  return m;
}

void X8::run(Run& run) {
  const kernels::Activation control = parse_activation_flag(c_.control_activation);
  const std::size_t n = c_.depths.size();
  std::vector<X8Result> relu(n), smooth(n);
  parallel_for(2 * n, run.threads(), [&](std::size_t j) {
    const std::size_t i = j / 2;
    if (j % 2 == 0) relu[i] = train(c_.depths[i], kernels::Activation::relu);
    else smooth[i] = train(c_.depths[i], control);
  });

  CsvTable weights({"activation", "L", "k", "w_initial", "w_final"});
  const double two_log_C = 2.0 * std::log(c_.C);
  double worst_even = 0, worst_odd = 0, smallest_relu_increment = INFINITY, largest_control = 0;
  nlohmann::json per_depth = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    const int L = c_.depths[i];
    const double w_star = 2.0 * double(L) * (std::pow(c_.C, 1.0 / double(L)) - 1.0);  // P4 appendix, exact
    double even_error = 0, odd_change = 0;
    for (std::size_t k = 0; k < relu[i].w.size(); ++k) {
      const bool even = (k + 1) % 2 == 0;  // layer index k + 1
      if (even) even_error = std::max(even_error, std::abs(relu[i].w[k] - w_star));
      else odd_change = std::max(odd_change, std::abs(relu[i].w[k] - relu[i].w0[k]));
    }
    const double inc_relu = max_increment(relu[i].w), inc_control = max_increment(smooth[i].w);
    worst_even = std::max(worst_even, even_error);
    worst_odd = std::max(worst_odd, odd_change);
    smallest_relu_increment = std::min(smallest_relu_increment, inc_relu);
    largest_control = std::max(largest_control, double(L) * inc_control);
    per_depth.push_back({{"L", L}, {"w_star", w_star}, {"max_even_error", even_error}, {"max_odd_change", odd_change},
                         {"relu_max_increment", inc_relu}, {"relu_iterations", relu[i].iterations},
                         {"relu_final_loss", relu[i].final_loss}, {"control_max_increment", inc_control},
                         {"control_L_times_max_increment", double(L) * inc_control},
                         {"control_iterations", smooth[i].iterations}, {"control_final_loss", smooth[i].final_loss}});
    for (std::size_t k = 0; k < relu[i].w.size(); ++k) {
      weights.add_row({std::string("relu"), (long long)L, (long long)(k + 1), relu[i].w0[k], relu[i].w[k]});
      weights.add_row({std::string(kernels::activation_name(control)), (long long)L, (long long)(k + 1),
                       smooth[i].w0[k], smooth[i].w[k]});
    }
    if (relu[i].final_loss > c_.loss_tolerance)
      run.note("ReLU, L = " + std::to_string(L) + ": not converged after " + std::to_string(relu[i].iterations) +
               " iterations (loss " + std::to_string(relu[i].final_loss) + ")");
    if (smooth[i].final_loss > c_.loss_tolerance)
      run.note("control, L = " + std::to_string(L) + ": not converged after " +
               std::to_string(smooth[i].iterations) + " iterations (loss " + std::to_string(smooth[i].final_loss) + ")");
  }
  run.write_csv("weights.csv", weights);
  run.summary()["per_depth"] = per_depth;
  run.summary()["two_log_C"] = two_log_C;
  run.criterion("max |w_even - w*|", worst_even, 0, 1e-4, "w* = 2L(C^{1/L} - 1), exact");
  run.criterion("max |w_odd - w_odd(0)|", worst_odd, 0, 1e-12, "odd weights never move");
  run.criterion("ReLU: min over L of max increment", smallest_relu_increment, two_log_C, INFINITY,
                "Omega(1): >= 2 log C");
  run.criterion("control: max over L of L * max increment", largest_control, 0, 10, "O(1/L) with a smooth activation");
}

}  // namespace

std::unique_ptr<Experiment> make_x8_relu_counterexample() { return std::make_unique<X8>(); }

}  // namespace tapelab::experiments
