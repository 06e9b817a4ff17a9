#pragma once
// Training-loop pieces: the NaN/Inf guard, one training step, mini-batches, and the P4 loss.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"

namespace tapelab::nn {

// Thrown when a loss, a gradient or a parameter stops being finite. what() names the iteration and the first
// bad parameter (registration order), e.g. "iteration 17: gradient of parameter 'layers.3.W' is nan at (0,
// 2)".
class NonFiniteError : public std::runtime_error {
 public:
  NonFiniteError(long long iteration, const std::string& message)
      : std::runtime_error(message), iteration_(iteration) {}
  long long iteration() const { return iteration_; }

 private:
  long long iteration_;
};

// Throws NonFiniteError if `loss` or any parameter value or gradient of `module` is NaN or Inf.
void check_finite(long long iteration, double loss, Module& module);

// One step: tape.clear(), optimizer.zero_grad(), loss = make_loss(tape), backward, check_finite (before the
// update: the error then names the first bad gradient), optimizer.step(), check of the updated values.
// Returns the loss before the update.
double train_step(long long iteration, Tape<double>& tape, Module& module, Optimizer& optimizer,
                  const std::function<Var<double>(Tape<double>&)>& make_loss);

// The pieces of a step, for steps that record their forward pass differently (nn/data_parallel.hpp):
// The loss of `iteration` is not finite: throws NonFiniteError naming the first non-finite parameter, if any,
// and the op and layer where the first non-finite value appeared, found by replaying make_loss on tape with
// anomaly detection (unless it is on already).
[[noreturn]] void report_non_finite_loss(long long iteration, double loss, Tape<double>& tape, Module& module,
                                         const std::function<Var<double>(Tape<double>&)>& make_loss);
// After backward: check_finite, the optimizer's step, the check of the updated values. Returns loss.
double finish_step(long long iteration, double loss, Module& module, Optimizer& optimizer);
// What check_finite's sweep finds: are all parameter values, all gradients finite?
struct FiniteScan {
  bool values = true, gradients = true;
};
// finish_step for a caller whose own sweep over the parameters already scanned every value and gradient of
// `module` (nn::DataParallelStep, while adding the parts' gradients): the same errors, without a second
// sweep.
double finish_step(long long iteration, double loss, Module& module, Optimizer& optimizer,
                   const FiniteScan& scan);

// P4 4.1 loss (1/n) Σ_i ||pred_i - y_i||² for column-per-sample pred, y (d' x n). autodiff's mse is this
// divided by d' (the authors' code's `.mean()`, papers.md 4.5).
Var<double> mean_squared_norm_loss(const Var<double>& pred, const Var<double>& target);
// The share of some columns of a batch of `samples` in that loss: (1/samples) Σ_{i in pred's columns} ||..||²
// (a DataParallelStep part's loss; the parts' shares add up to the loss above).
Var<double> mean_squared_norm_loss(const Var<double>& pred, const Var<double>& target, index_t samples);

// Mini-batch SGD: each epoch a fresh permutation of 0..n-1 from rng, cut into batches of batch_size (the
// last one shorter).
std::vector<std::vector<std::size_t>> epoch_batches(Rng& rng, std::size_t n, std::size_t batch_size);
// The columns `indices` of x (one column per sample), in that order.
Tensor<double> gather_columns(TensorView<const double> x, const std::vector<std::size_t>& indices);

}  // namespace tapelab::nn
