#include "nn/data_parallel.hpp"

#include <cmath>
#include <exception>

#include "kernels/elementwise.hpp"
#include "nn/finite.hpp"
#include "nn/train.hpp"

namespace tapelab::nn {

DataParallelStep::DataParallelStep(Module& module) : module_(module), params_(module.parameters()) {
  // Every parameter gets a buffer, frozen ones too: one unfrozen later must not have part 1 write into its
  // Parameter::grad while part 0 does.
  part1_grads_.reserve(params_.size());
  for (Param* p : params_) part1_grads_.emplace_back(p->rows(), p->cols());
  map_part1_grads();
  tapes_[1].redirect_param_grads(&to_part1_);
}

void DataParallelStep::map_part1_grads() {
  to_part1_.clear();
  grad_keys_.clear();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    to_part1_.emplace(params_[i]->grad.data(), part1_grads_[i].data());
    grad_keys_.push_back(params_[i]->grad.data());
  }
}

double DataParallelStep::step(long long iteration, Optimizer& optimizer, index_t batch, const PartLoss& part_loss,
                              int threads) {
  // The redirection is keyed by where each Parameter::grad lives: should one have been given a new tensor since,
  // part 1 would otherwise write into it beside part 0.
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i]->grad.data() != grad_keys_[i]) {
      map_part1_grads();
      break;
    }
  const int parts = batch_parts(batch);
  double values[2] = {0.0, 0.0};
  std::exception_ptr errors[2];
  optimizer.zero_grad();
  auto run_part = [&](int p) {
    try {
      if (p == 1)
        for (Tensor<double>& g : part1_grads_) kernels::fill(g.rows(), g.cols(), 0.0, g.data(), g.ld());
      Tape<double>& tape = tapes_[std::size_t(p)];
      tape.clear();
      const Var<double> loss = part_loss(tape, batch_part(batch, parts, p));
      values[p] = loss.item();
      if (std::isfinite(values[p])) tape.backward(loss);
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  if (parts == 2 && threads >= 2) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int p = 0; p < 2; ++p) run_part(p);
  } else {
    for (int p = 0; p < parts; ++p) run_part(p);
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);

  const double loss = parts == 2 ? values[0] + values[1] : values[0];
  for (int p = 0; p < parts; ++p)
    if (!std::isfinite(values[p]))
      report_non_finite_loss(iteration, loss, tapes_[std::size_t(p)], module_, [&](Tape<double>& tape) {
        return part_loss(tape, batch_part(batch, parts, p));
      });

  // Part 1's gradients added to part 0's, parameter by parameter, in halves like the optimizer's sweeps (on two
  // threads when op threads are on): elementwise, so the same bits however the parameters are shared out.
  if (parts == 2)
    detail::for_halves(params_.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        if (i + detail::kPrefetchAhead < end) {
          detail::prefetch(params_[i + detail::kPrefetchAhead]->grad, /*for_write=*/true);
          detail::prefetch(part1_grads_[i + detail::kPrefetchAhead]);
        }
        Param& q = *params_[i];
        if (!q.requires_grad) continue;
        kernels::axpy(q.rows(), q.cols(), 1.0, part1_grads_[i].data(), part1_grads_[i].ld(), q.grad.data(),
                      q.grad.ld());
      }
    });
  return finish_step(iteration, loss, module_, optimizer);
}

}  // namespace tapelab::nn
