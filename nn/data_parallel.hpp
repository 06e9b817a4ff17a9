#pragma once
// DataParallelStep: one full-batch training step with the batch cut into two parts (the halves of
// autodiff/batch_parts.hpp), each part recorded on its own tape, forward and backward, its parameter
// gradients accumulated into its own buffers, and the two added in part order before the update.
//
// Why: on two cores the parts run side by side and meet once per step. Op-level threads (residual_step's
// batch halves, kernels::set_op_threads) meet twice per layer, so at depth 16384 a step has 32768 joins, and
// each one waits out any moment the second core spends elsewhere; here a step has one.
//
// Same bits for 1 and 2 threads: one thread runs the same two parts one after the other. The parameter
// gradients are also the same bits as train_step's on the whole batch whenever the model's ops cut the batch
// the same way themselves (residual_step does, for B >= 64: part 0 into the gradient, then part 1 added),
// which tests/nn/test_data_parallel.cpp checks for the P4 network; the loss value is the sum of the parts'
// losses.
#include <array>
#include <functional>
#include <unordered_map>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "autodiff/batch_parts.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"

namespace tapelab::nn {

class DataParallelStep {
 public:
  // Records the loss of the columns `part` of the batch on `tape`, scaled as its share of the whole batch's
  // loss, so that the parts' losses add up to it: e.g. (1/n) Σ_{i in part} ||f(x_i) - y_i||² with n the size
  // of the whole batch, not of the part. Called for both parts at once on two threads: what it touches
  // besides its tape must be safe for that (ResidualNetwork::forward without keep_hidden is).
  using PartLoss = std::function<Var<double>(Tape<double>& tape, ColumnRange part)>;

  // Gradient buffers for part 1, one per parameter of `module` (which must outlive this).
  explicit DataParallelStep(Module& module);
  DataParallelStep(const DataParallelStep&) = delete;
  DataParallelStep& operator=(const DataParallelStep&) = delete;

  // One step on a batch of `batch` columns, as train_step does it: zero_grad, forward and backward (per
  // part), check_finite, the optimizer's step, the check of the updated values; NonFiniteError names the
  // iteration and, for a non-finite loss, the op and layer (replayed on the part whose loss it was), and
  // nothing is updated then. Returns the loss before the update. `threads` >= 2 runs the two parts side by
  // side (a batch under 64 columns stays whole). Three sweeps over the parameters, on op threads: zero_grad;
  // the sum of the parts, which also empties part 1's buffers for the next step and makes check_finite's
  // scan; the update.
  double step(long long iteration, Optimizer& optimizer, index_t batch, const PartLoss& part_loss,
              int threads);

 private:
  Module& module_;
  std::vector<Param*> params_;
  std::vector<Tensor<double>> part1_grads_;  // one per parameter, in params_ order
  bool part1_zero_ = true;  // part1_grads_ all zero (as built, and after each step's sum empties them)
  std::unordered_map<const double*, double*> to_part1_;  // Parameter::grad -> its part-1 buffer
  std::vector<const double*> grad_keys_;                 // the keys, in params_ order
  void map_part1_grads();
  std::array<Tape<double>, 2> tapes_;
};

}  // namespace tapelab::nn
