#pragma once
// Optimisers over parameter groups, PyTorch conventions: step() reads Parameter::grad and updates
// Parameter::value; zero_grad() clears the gradients. Each group has its own learning rate (P4 4.3: lr = L
// eta0 on the residual weights, eta0 on the embeddings) and optionally a coordinate clipping bound (P4's
// clipped flow: π clips every coordinate to [-C, C] after each step). Frozen parameters (requires_grad false)
// are skipped.
//
//   GradientDescent   p -= lr g                        (full batch: GD; on mini-batch gradients: SGD)
//   Momentum          v = μ v + g;  p -= lr v          (torch.optim.SGD(momentum=μ), heavy ball)
//   Adam              m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
//                     p -= lr (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)     (torch.optim.Adam)
#include <limits>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace tapelab::nn {

struct ParamGroup {
  std::vector<Param*> params;
  double lr = 1e-2;
  double clip = std::numeric_limits<double>::infinity();  // |p_ij| <= clip after each step (P4 π)
};

// One named tensor of optimiser state (for checkpoints): e.g. "adam.m.3".
struct OptimizerState {
  std::string name;
  Tensor<double>* tensor;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  // step(), then true if every value it updated is finite (nn::train_step's check after the update). The
  // default checks in a second sweep; GradientDescent updates and checks in one.
  virtual bool step_and_check_finite();
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }
  // The optimiser's state tensors in a fixed order, and its step count (checkpoints save and restore both).
  virtual std::vector<OptimizerState> state() { return {}; }
  long long steps_taken() const { return steps_; }
  void set_steps_taken(long long steps) { steps_ = steps; }

 protected:
  void clip_group(const ParamGroup& group);
  std::vector<ParamGroup> groups_;
  long long steps_ = 0;
};

// Helper: one group with every parameter of a module.
std::vector<ParamGroup> single_group(Module& module, double lr);

class GradientDescent : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step() override;
  bool step_and_check_finite() override;

 private:
  bool sweep(bool check);  // the update, and (if check) whether the updated values are finite
};

class Momentum : public Optimizer {
 public:
  Momentum(std::vector<ParamGroup> groups, double momentum);
  void step() override;
  std::vector<OptimizerState> state() override;

 private:
  double momentum_;
  std::vector<Tensor<double>> velocity_;  // one per parameter, group order
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  void step() override;
  std::vector<OptimizerState> state() override;

 private:
  double beta1_, beta2_, eps_;
  std::vector<Tensor<double>> m_, v_;
};

}  // namespace tapelab::nn
