#pragma once
// DataParallelStep: one full-batch training step with the batch cut into two parts (the halves of
// autodiff/batch_parts.hpp), each part recorded on its own tape, forward and backward, its parameter
// gradients written into its own buffers (part 0's are the Parameter::grad of the optimizer's parameters),
// and the two added in part order before the update.
//
// Why: on two cores the parts run side by side and meet once per step. Op-level threads (residual_step's
// batch halves, kernels::set_op_threads) meet twice per layer, so at depth 16384 a step has 32768 joins, and
// each one waits out any moment the second core spends elsewhere; here a step has one.
//
// No zeroing sweeps: each tape overwrites its gradient buffers at their first write in the backward pass
// (Tape::GradRedirect::overwrite) instead of adding to buffers zeroed beforehand, which on a deep network
// saves a sweep over every gradient and the read of each gradient inside the backward pass. Parameter::grad
// ends up as optimizer.zero_grad() followed by the backward passes would leave it.
//
// Same bits for 1 and 2 threads: one thread runs the same two parts one after the other. The parameter
// updates are also the same bits as train_step's on the whole batch whenever the model's ops cut the batch
// the same way themselves (residual_step does, for B >= 64: part 0 into the gradient, then part 1 added),
// which tests/nn/test_data_parallel.cpp checks for the P4 network; the loss value is the sum of the parts'
// losses.
#include <array>
#include <functional>
#include <unordered_map>
#include <utility>
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
  // side (a batch under 64 columns stays whole). Two sweeps over the parameters, on op threads: the sum of
  // the parts, which also makes check_finite's scan, and the update.
  double step(long long iteration, Optimizer& optimizer, index_t batch, const PartLoss& part_loss,
              int threads);

 private:
  using Redirect = Tape<double>::GradRedirect;
  Module& module_;
  std::vector<Param*> params_;
  std::vector<Tensor<double>> part1_grads_;  // one per parameter, in params_ order
  // Part 1: Parameter::grad -> its part-1 buffer, for every parameter of the module, in params_ order.
  Tape<double>::GradRedirects to_part1_;
  std::vector<const double*> grad_keys_;  // the keys, in params_ order
  // Part 0: Parameter::grad -> itself, overwritten, for the parameters that optimizer.zero_grad() would zero
  // (the last optimizer's; other parameters keep accumulating, as they would have); each with its entry.
  Tape<double>::GradRedirects to_part0_;
  std::vector<std::pair<Param*, std::size_t>> part0_entries_;
  std::vector<Param*> optimizer_params_;  // scratch: this step's optimizer parameters
  void map_part1_grads();
  void map_part0_grads(Optimizer& optimizer);
  std::array<Tape<double>, 2> tapes_;
};

}  // namespace tapelab::nn
