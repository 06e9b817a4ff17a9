#pragma once
// The scaling trichotomy sweep of P5 Fig. 1, 3 (papers.md 5.3, 7 X1), shared by X1 (hidden states and
// gradients) and X12 (its re-check of the gradients): fresh i.i.d. res-3 networks per (β, L), r_h and r_g per
// network, medians and mean squares per point, log-log slopes of the medians with bootstrap CIs over networks,
// and papers.md's X1 criteria (β = 1: slope in [-0.6, -0.4]; β = 1/2: |slope| <= 0.1 and mean r² at the
// largest L in [0.45, 0.85]; β = 1/4: median at the largest L >= 100 and slope >= 1).
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/common.hpp"
#include "experiments/run.hpp"

namespace tapelab::experiments {

struct TrichotomySweep {
  std::vector<int> depths = linspace_int(10, 1000, 10);  // P5: np.linspace(10, 1e3, num=10, dtype=int)
  std::vector<double> betas = {0.25, 0.5, 1.0};
  int seeds = 50;
  int width = 40;
  int input_dim = 64;
  std::string activation = "relu";
  std::string precision = "double";  // "float": the same networks evaluated in float (P5's code runs float32)
  int bootstrap = 1000;
  std::uint64_t family = 0;  // networks are drawn from seed ^ (family * golden ratio): X12 re-checks on new ones

  // Throws std::invalid_argument naming the flag.
  void validate() const;
};

// Runs the sweep, writes <prefix>networks.csv and <prefix>points.csv, records the summary under
// <prefix>beta_<β> and the criteria for r_g (and r_h when check_hidden).
void run_trichotomy(Run& run, const TrichotomySweep& sweep, bool check_hidden, const std::string& prefix);

}  // namespace tapelab::experiments
