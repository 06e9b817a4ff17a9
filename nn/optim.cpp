#include "nn/optim.hpp"

#include "nn/finite.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tapelab::nn {
namespace {

std::vector<Tensor<double>> zeros_like_all(const std::vector<ParamGroup>& groups) {
  std::vector<Tensor<double>> out;
  for (const ParamGroup& g : groups)
    for (const Param* p : g.params) out.emplace_back(p->rows(), p->cols());
  return out;
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (!(groups_[i].lr >= 0.0) || !std::isfinite(groups_[i].lr))
      throw std::invalid_argument("Optimizer: group " + std::to_string(i) + " has learning rate " +
                                  std::to_string(groups_[i].lr) + "; it must be finite and >= 0");
    if (!(groups_[i].clip > 0.0))
      throw std::invalid_argument("Optimizer: group " + std::to_string(i) + " has clip bound " +
                                  std::to_string(groups_[i].clip) + "; it must be > 0");
    for (const Param* p : groups_[i].params)
      if (p == nullptr)
        throw std::invalid_argument("Optimizer: group " + std::to_string(i) + " holds a null parameter");
  }
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    detail::for_halves(g.params.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) g.params[k]->zero_grad();
    });
}

void Optimizer::clip_group(const ParamGroup& group) {
  if (std::isinf(group.clip)) return;
  for (Param* p : group.params) {
    if (!p->requires_grad) continue;
    for (index_t i = 0; i < p->value.size(); ++i)
      p->value.data()[i] = std::clamp(p->value.data()[i], -group.clip, group.clip);
  }
}

std::vector<ParamGroup> single_group(Module& module, double lr) {
  return {ParamGroup{module.parameters(), lr}};
}

bool Optimizer::step_and_check_finite() {
  step();
  for (const ParamGroup& g : groups_)
    for (const Param* p : g.params)
      if (p->requires_grad && !detail::all_finite(p->value)) return false;
  return true;
}

bool GradientDescent::sweep(bool check) {
  bool finite = true;
  for (const ParamGroup& g : groups_) {
    const bool clipped = !std::isinf(g.clip);
    bool bad[2] = {false, false};  // per half
    detail::for_halves(g.params.size(), [&](std::size_t begin, std::size_t end) {
      bool ok = true;
      for (std::size_t k = begin; k < end; ++k) {
        if (k + detail::kPrefetchAhead < end) {
          const Param* next = g.params[k + detail::kPrefetchAhead];
          detail::prefetch(next->value, /*for_write=*/true);
          detail::prefetch(next->grad);
        }
        Param* p = g.params[k];
        if (!p->requires_grad) continue;
        // value and grad are distinct tensors: saying so lets the compiler vectorise the loop (same formula,
        // same bits as the scalar loop: no FMA contraction in ISO C++ mode).
        double* __restrict value = p->value.data();
        const double* __restrict grad = p->grad.data();
        const index_t n = p->value.size();
        for (index_t i = 0; i < n; ++i) value[i] -= g.lr * grad[i];
        if (check && !clipped) ok = ok && detail::all_finite(p->value);  // while it is in L1
      }
      bad[begin == 0 ? 0 : 1] = !ok;
    });
    finite = finite && !bad[0] && !bad[1];
    clip_group(g);
    if (check && clipped)
      for (const Param* p : g.params) finite = finite && (!p->requires_grad || detail::all_finite(p->value));
  }
  ++steps_;
  return finite;
}

void GradientDescent::step() { sweep(false); }
bool GradientDescent::step_and_check_finite() { return sweep(true); }

Momentum::Momentum(std::vector<ParamGroup> groups, double momentum)
    : Optimizer(std::move(groups)), momentum_(momentum), velocity_(zeros_like_all(groups_)) {
  if (!(momentum >= 0.0 && momentum < 1.0))
    throw std::invalid_argument("Momentum: momentum " + std::to_string(momentum) + " must be in [0, 1)");
}

void Momentum::step() {
  std::size_t slot = 0;
  for (const ParamGroup& g : groups_) {
    for (Param* p : g.params) {
      Tensor<double>& v = velocity_[slot++];
      if (!p->requires_grad) continue;
      for (index_t i = 0; i < p->value.size(); ++i) {
        v.data()[i] = momentum_ * v.data()[i] + p->grad.data()[i];
        p->value.data()[i] -= g.lr * v.data()[i];
      }
    }
    clip_group(g);
  }
  ++steps_;
}

std::vector<OptimizerState> Momentum::state() {
  std::vector<OptimizerState> out;
  for (std::size_t i = 0; i < velocity_.size(); ++i)
    out.push_back({"momentum.velocity." + std::to_string(i), &velocity_[i]});
  return out;
}

Adam::Adam(std::vector<ParamGroup> groups, double beta1, double beta2, double eps)
    : Optimizer(std::move(groups)),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      m_(zeros_like_all(groups_)),
      v_(zeros_like_all(groups_)) {
  if (!(beta1 >= 0.0 && beta1 < 1.0) || !(beta2 >= 0.0 && beta2 < 1.0) || !(eps > 0.0))
    throw std::invalid_argument("Adam: needs 0 <= beta1, beta2 < 1 and eps > 0");
}

void Adam::step() {
  ++steps_;
  const double correction1 = 1.0 - std::pow(beta1_, double(steps_));
  const double correction2 = 1.0 - std::pow(beta2_, double(steps_));
  std::size_t slot = 0;
  for (const ParamGroup& g : groups_) {
    for (Param* p : g.params) {
      Tensor<double>& m = m_[slot];
      Tensor<double>& v = v_[slot++];
      if (!p->requires_grad) continue;
      for (index_t i = 0; i < p->value.size(); ++i) {
        const double grad = p->grad.data()[i];
        m.data()[i] = beta1_ * m.data()[i] + (1.0 - beta1_) * grad;
        v.data()[i] = beta2_ * v.data()[i] + (1.0 - beta2_) * grad * grad;
        p->value.data()[i] -=
            g.lr * (m.data()[i] / correction1) / (std::sqrt(v.data()[i] / correction2) + eps_);
      }
    }
    clip_group(g);
  }
}

std::vector<OptimizerState> Adam::state() {
  std::vector<OptimizerState> out;
  for (std::size_t i = 0; i < m_.size(); ++i) out.push_back({"adam.m." + std::to_string(i), &m_[i]});
  for (std::size_t i = 0; i < v_.size(); ++i) out.push_back({"adam.v." + std::to_string(i), &v_[i]});
  return out;
}

}  // namespace tapelab::nn
