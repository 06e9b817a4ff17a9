#include "nn/module.hpp"

#include <stdexcept>

namespace tapelab::nn {

std::vector<Param*> Module::parameters() {
  std::vector<Param*> out;
  for (Param& p : storage_) out.push_back(&p);
  return out;
}

std::vector<NamedParameter> Module::named_parameters() {
  std::vector<NamedParameter> out;
  for (std::size_t i = 0; i < storage_.size(); ++i) out.push_back({names_[i], &storage_[i]});
  return out;
}

Param& Module::parameter(const std::string& name) {
  const auto it = index_.find(name);
  if (it == index_.end()) throw std::invalid_argument("Module::parameter: no parameter named '" + name + "'");
  return storage_[it->second];
}

void Module::zero_grad() {
  for (Param& p : storage_) p.zero_grad();
}

std::size_t Module::parameter_count() const {
  std::size_t n = 0;
  for (const Param& p : storage_) n += std::size_t(p.value.size());
  return n;
}

Param& Module::add_parameter(std::string name, Tensor<double> initial, bool trainable) {
  if (!index_.try_emplace(name, storage_.size()).second)
    throw std::invalid_argument("Module::add_parameter: duplicate name '" + name + "'");
  names_.push_back(std::move(name));
  Param& p = storage_.emplace_back(std::move(initial));
  p.requires_grad = trainable;
  return p;
}

}  // namespace tapelab::nn
