#pragma once
// An experiment of papers.md section 7: a name, the paper and claim it checks, its flags (every parameter,
// the paper's value as default, a reduced value for --quick), and a run that measures and judges.
//
// Life of a run (experiments/cli.cpp): flags parsed -> quick values applied to the flags not given ->
// validate() -> Run made (creates the output folder, writes config.json) -> run(run) -> run.finish()
// (summary.json, plots, the terminal summary).
#include <memory>
#include <string>
#include <vector>

#include "experiments/flags.hpp"
#include "experiments/run.hpp"

namespace tapelab::experiments {


class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual ExperimentInfo info() const = 0;
  // Binds every parameter of the experiment's configuration to a flag.
  virtual void add_flags(Flags& flags) = 0;
  // Checks values CLI11 cannot (lists sorted, sizes consistent, files given in pairs); throws
  // std::invalid_argument with a one-line message.
  virtual void validate() const {}
  // Measures, writes the raw data, records the summary and the criteria.
  virtual void run(Run& run) = 0;
};

// Every experiment, in the order `tapelab list` shows them.
std::vector<std::unique_ptr<Experiment>> make_all_experiments();

std::unique_ptr<Experiment> make_x1_scaling_trichotomy();
std::unique_ptr<Experiment> make_x2_random_limit();
std::unique_ptr<Experiment> make_x5_ode_discretisation();
std::unique_ptr<Experiment> make_x6_training_limit();
std::unique_ptr<Experiment> make_x8_relu_counterexample();
std::unique_ptr<Experiment> make_x11_gd_convergence();
std::unique_ptr<Experiment> make_x12_adjoint_limit();

}  // namespace tapelab::experiments
