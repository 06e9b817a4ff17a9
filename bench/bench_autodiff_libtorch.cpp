// The libtorch rows of bench_autodiff: the same model as bench_autodiff.hpp, written the way a libtorch user
// would write it efficiently (addmm for W h + b and for h + (1/L) V a), one intra-op thread.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench_autodiff.hpp"

namespace tapelab::bench {
namespace {

void set_one_thread() { at::set_num_threads(1); }

// Plain gradient descent on `params` after loss.backward(), gradients zeroed for the next step.
void gradient_descent_step(std::vector<torch::Tensor>& params, double lr) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : params) {
    p.add_(p.grad(), -lr);
    p.mutable_grad().zero_();
  }
}

// Times model.step() after one warm-up step; `flops` per step for the GFLOPS counter.
template <class Model>
void time_steps(benchmark::State& state, Model& model, double flops) {
  model.step();
  for (auto _ : state) benchmark::DoNotOptimize(model.step());
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

class TorchTrainStep {
 public:
  TorchTrainStep(torch::Dtype dtype, long d, long L) : L_(L) {
    torch::manual_seed(0);
    const auto opt = torch::TensorOptions().dtype(dtype);
    const double s = 1.0 / std::sqrt(double(d)), sio = 1.0 / std::sqrt(double(kTrainDio));
    auto param = [&](long r, long c, double scale) {
      torch::Tensor t = (torch::rand({r, c}, opt) * 2 - 1) * scale;
      t.set_requires_grad(true);
      params_.push_back(t);
      return t;
    };
    A_ = param(d, kTrainDio, sio);
    C_ = param(kTrainDio, d, s);
    for (long k = 0; k < L; ++k) {
      W_.push_back(param(d, d, s));
      V_.push_back(param(d, d, s));
      b_.push_back(param(d, 1, s));
    }
    x_ = torch::rand({kTrainDio, kTrainBatch}, opt) * 2 - 1;
    y_ = torch::rand({kTrainDio, kTrainBatch}, opt) * 2 - 1;
  }

  double step() {
    torch::Tensor h = A_.mm(x_);
    const double alpha = 1.0 / double(L_);
    for (long k = 0; k < L_; ++k) {
      const std::size_t i = std::size_t(k);
      const torch::Tensor a =
          torch::tanh(torch::addmm(b_[i], W_[i], h));              // tanh(W h + b), b broadcast per row
      h = torch::addmm(h, V_[i], a, /*beta=*/1, /*alpha=*/alpha);  // h + alpha V a
    }
    torch::Tensor loss = torch::mse_loss(C_.mm(h), y_);
    loss.backward();
    gradient_descent_step(params_, kTrainLearningRate);
    return loss.item<double>();
  }

 private:
  long L_;
  torch::Tensor A_, C_, x_, y_;
  std::vector<torch::Tensor> W_, V_, b_, params_;
};

void BM_TrainStepLibtorch(benchmark::State& state, bool f64, long d, long L) {
  set_one_thread();
  TorchTrainStep model(f64 ? torch::kFloat64 : torch::kFloat32, d, L);
  time_steps(state, model, train_step_flops(d, L));
}

// One GD iteration of experiment X6's network (bench_autodiff.hpp), as the authors' PyTorch code computes it
// but with the paper's scaling: GELU (torch's default, the erf form), full batch, every W_k and V_k trained.
class TorchP4Step {
 public:
  TorchP4Step(torch::Dtype dtype, long L) : L_(L) {
    torch::manual_seed(0);
    const auto opt = torch::TensorOptions().dtype(dtype);
    const torch::Tensor w = torch::randn({kP4Hidden, kP4Width}, opt);  // W_k = W for every k at the start
    for (long k = 0; k < L; ++k) {
      W_.push_back(w.clone().set_requires_grad(true));
      V_.push_back(torch::zeros({kP4Width, kP4Hidden}, opt).set_requires_grad(true));
      params_.push_back(W_.back());  // (tensors share storage: the update reaches W_ and V_)
      params_.push_back(V_.back());
    }
    embed_in_ = torch::eye(kP4Width, opt);  // frozen identity embeddings, multiplied as tapelab's network does
    embed_out_ = torch::eye(kP4Width, opt);
    x_ = torch::randn({kP4Width, kP4Samples}, opt);
    y_ = torch::randn({kP4Width, kP4Samples}, opt);
  }

  double step() {
    const double gamma = 1.0 / std::sqrt(double(kP4Width)), alpha = 1.0 / (double(L_) * std::sqrt(double(kP4Hidden)));
    torch::Tensor h = embed_in_.mm(x_);
    for (std::size_t k = 0; k < W_.size(); ++k) {
      const torch::Tensor a = torch::gelu(W_[k].mm(h).mul_(gamma));  // gelu(W h / sqrt(q))
      h = torch::addmm(h, V_[k], a, /*beta=*/1, /*alpha=*/alpha);     // h + V a / (L sqrt(m))
    }
    torch::Tensor loss = (embed_out_.mm(h) - y_).square().sum() / double(kP4Samples);
    loss.backward();
    gradient_descent_step(params_, kP4LearningRatePerLayer * double(L_));
    return loss.item<double>();
  }

 private:
  long L_;
  torch::Tensor embed_in_, embed_out_, x_, y_;
  std::vector<torch::Tensor> W_, V_, params_;
};

void BM_P4StepLibtorch(benchmark::State& state, bool f64, long L) {
  set_one_thread();
  TorchP4Step model(f64 ? torch::kFloat64 : torch::kFloat32, L);
  time_steps(state, model, p4_step_flops(L));
}

// Three tiny ops (8x8 matmul, tanh, sum) forward + backward: libtorch's per-op cost, for scale.
void BM_LibtorchTiny(benchmark::State& state) {
  set_one_thread();
  const auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor W = torch::rand({8, 8}, opt).set_requires_grad(true), x = torch::rand({8, 8}, opt);
  for (auto _ : state) {
    torch::Tensor loss = torch::tanh(W.mm(x)).sum();
    loss.backward();
    W.mutable_grad().zero_();
  }
  state.counters["per_op"] =
      benchmark::Counter(3, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

void register_libtorch_train_step(bool f64, long d, long L) {
  const std::string name = std::string("BM_TrainStep/libtorch/") + (f64 ? "f64/" : "f32/") +
                           std::to_string(d) + "/" + std::to_string(L);
  benchmark::RegisterBenchmark(name.c_str(), BM_TrainStepLibtorch, f64, d, L)->Unit(benchmark::kMillisecond);
}

void register_libtorch_p4_step(bool f64, long L) {
  const std::string name = std::string("BM_P4Step/libtorch/") + (f64 ? "f64/" : "f32/") + std::to_string(L);
  benchmark::RegisterBenchmark(name.c_str(), BM_P4StepLibtorch, f64, L)->Unit(benchmark::kMillisecond);
}

void register_libtorch_overhead() {
  benchmark::RegisterBenchmark("BM_TapeOverhead/matmul_tanh_sum8x8/libtorch", BM_LibtorchTiny);
}

}  // namespace tapelab::bench
