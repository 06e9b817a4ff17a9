// X1: the scaling trichotomy at initialisation (P5 Fig. 1, 3; papers.md 5.3, 7).
//
// P5 res-3 networks with i.i.d. weights of variance 1/width, residual scale α_L = L^{-β}. P5's claim: only
// β = 1/2 is non-trivial; β > 1/2 tends to the identity (r_h -> 0), β < 1/2 explodes. [DER] For ReLU,
// E||h_L||^2 = (1 + α²/2)^L ||h_0||^2, so mean r_h² -> e^{1/2} - 1 = 0.649 at β = 1/2, and r_h ~ (2L)^{-1/2} at
// β = 1. The same trichotomy holds for the gradients r_g. The sweep itself is experiments/trichotomy.cpp.
#include "experiments/experiment.hpp"
#include "experiments/trichotomy.hpp"

namespace tapelab::experiments {
namespace {

class X1 : public Experiment {
 public:
  ExperimentInfo info() const override {
    return {"X1", "scaling trichotomy at initialisation", "P5 Fig. 1, 3",
            "i.i.d. res-3 ReLU nets: beta = 1 -> identity (slope -1/2), beta = 1/2 -> stable (mean r_h^2 -> 0.649), "
            "beta = 1/4 -> explosion; same for gradients"};
  }
  void add_flags(Flags& f) override {
    f.add("--depths", c_.depths, "depths L", std::optional(std::vector<int>{10, 32, 100, 316, 1000}));
    f.add("--betas", c_.betas, "residual scale exponents beta (alpha_L = L^-beta)");
    f.add("--seeds", c_.seeds, "fresh networks per (beta, L) point", std::optional(20));
    f.add("--width", c_.width, "hidden width (P5: 40)");
    f.add("--input-dim", c_.input_dim, "input dimension (P5: 64)");
    f.add("--activation", c_.activation, "activation: " + activation_names());
    f.add("--precision", c_.precision, "float or double (the weights are drawn in double either way)");
    f.add("--bootstrap", c_.bootstrap, "bootstrap resamples for the slope confidence intervals", std::optional(200));
  }
  void validate() const override { c_.validate(); }
  void run(Run& run) override { run_trichotomy(run, c_, /*check_hidden=*/true, ""); }

 private:
  TrichotomySweep c_;
};

}  // namespace

std::unique_ptr<Experiment> make_x1_scaling_trichotomy() { return std::make_unique<X1>(); }

}  // namespace tapelab::experiments
