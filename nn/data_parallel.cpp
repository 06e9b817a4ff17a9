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
  tapes_[0].redirect_param_grads(&to_part0_);
  tapes_[1].redirect_param_grads(&to_part1_);
}

void DataParallelStep::map_part1_grads() {
  to_part1_.clear();
  grad_keys_.clear();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    to_part1_.add(params_[i]->grad.data(), Redirect{part1_grads_[i].data(), /*overwrite=*/true});
    grad_keys_.push_back(params_[i]->grad.data());
  }
}

void DataParallelStep::map_part0_grads(Optimizer& optimizer) {
  optimizer_params_.clear();
  for (const ParamGroup& g : optimizer.groups())
    optimizer_params_.insert(optimizer_params_.end(), g.params.begin(), g.params.end());
  bool same = optimizer_params_.size() == part0_entries_.size();
  for (std::size_t i = 0; same && i < optimizer_params_.size(); ++i)
    same = optimizer_params_[i] == part0_entries_[i].first &&
           to_part0_[part0_entries_[i].second].to == optimizer_params_[i]->grad.data();
  if (same) return;
  to_part0_.clear();
  part0_entries_.clear();
  for (Param* p : optimizer_params_)
    part0_entries_.emplace_back(p,
                                to_part0_.add(p->grad.data(), Redirect{p->grad.data(), /*overwrite=*/true}));
}

double DataParallelStep::step(long long iteration, Optimizer& optimizer, index_t batch,
                              const PartLoss& part_loss, int threads) {
  // The redirections are keyed by where each Parameter::grad lives: should one have been given a new tensor
  // since, part 1 would otherwise write into it beside part 0.
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i]->grad.data() != grad_keys_[i]) {
      map_part1_grads();
      break;
    }
  map_part0_grads(optimizer);  // in place of optimizer.zero_grad()
  const int parts = batch_parts(batch);
  double values[2] = {0.0, 0.0};
  std::exception_ptr errors[2];
  auto run_part = [&](int p) {
    try {
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
  // The optimizer's parameters that part 0's recording never saw (unused, or not requiring grad) were not
  // overwritten: zeroed here, as optimizer.zero_grad() would have.
  for (const auto& [p, entry] : part0_entries_)
    if (!to_part0_[entry].recorded(tapes_[0])) p->zero_grad();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);

  const double loss = parts == 2 ? values[0] + values[1] : values[0];
  for (int p = 0; p < parts; ++p)
    if (!std::isfinite(values[p]))
      report_non_finite_loss(iteration, loss, tapes_[std::size_t(p)], module_, [&](Tape<double>& tape) {
        return part_loss(tape, batch_part(batch, parts, p));
      });

  // One sweep over the parameters, in halves (on two threads when op threads are on), each parameter while it
  // is in L1: part 1's gradient added to part 0's, then check_finite's checks of its value and gradient
  // (finish_step is told what they found instead of sweeping again). Elementwise, so the same bits however
  // the parameters are shared out.
  const bool part1_used = parts == 2;
  const FiniteScan found = detail::scan_finite(params_, true, true, [&](std::size_t i) {
    if (!part1_used) return;
    if (i + detail::kPrefetchAhead < params_.size())
      detail::prefetch(part1_grads_[i + detail::kPrefetchAhead]);
    Param& q = *params_[i];
    // Part 1's buffer holds this step's gradient if its recording saw q (else it may hold an older one).
    if (q.requires_grad && to_part1_[i].recorded(tapes_[1])) {
      const Tensor<double>& g1 = part1_grads_[i];
      kernels::axpy(q.rows(), q.cols(), 1.0, g1.data(), g1.ld(), q.grad.data(), q.grad.ld());
    }
  });
  return finish_step(iteration, loss, module_, optimizer, found);
}

}  // namespace tapelab::nn
