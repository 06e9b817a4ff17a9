#pragma once
// gradcheck: compares the gradients backward() computes with central finite differences, in double.
//
// f maps input Vars to an output Var of any shape. The check draws a fixed random seed tensor R of the
// output's shape and differentiates the scalar <R, f(x)>: backward(out, R) gives the analytic gradient, and
//     (<R, f(x + h e_k)> - <R, f(x - h e_k)>) / 2h
// the numeric one, for every entry k of every input. A mismatch reports the op, the argument, the index, and
// the expected (finite-difference) and received (backward) values.
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "autodiff/tape.hpp"

namespace tapelab {

struct GradcheckOptions {
  double step = 1e-6;  // h; the truncation error of central differences is O(h²)
  double rtol = 1e-6;  // |received - expected| <= atol + rtol |expected|
  double atol = 1e-8;
  std::uint64_t seed = 0;  // for the random projection R
};

struct GradcheckResult {
  bool ok = true;
  std::string message;                 // empty when ok; else the first mismatch, fully described
  double max_abs_error = 0;            // over all entries checked
  std::set<std::string> ops_recorded;  // op labels of the nodes f recorded (for the coverage test)
};

using GradcheckFunction = std::function<Var<double>(Tape<double>&, std::span<const Var<double>>)>;

// `name` names the check in messages; `inputs` are the points at which f is differentiated.
GradcheckResult gradcheck(std::string_view name, const GradcheckFunction& f,
                          std::span<const Tensor<double>> inputs, const GradcheckOptions& options = {});

}  // namespace tapelab
