#include "experiments/experiment.hpp"

namespace tapelab::experiments {

std::vector<std::unique_ptr<Experiment>> make_all_experiments() {
  std::vector<std::unique_ptr<Experiment>> all;
  all.push_back(make_x1_scaling_trichotomy());
  all.push_back(make_x2_random_limit());
  all.push_back(make_x5_ode_discretisation());
  all.push_back(make_x6_training_limit());
  all.push_back(make_x8_relu_counterexample());
  all.push_back(make_x11_gd_convergence());
  all.push_back(make_x12_adjoint_limit());
  return all;
}

}  // namespace tapelab::experiments
