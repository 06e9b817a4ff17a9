#pragma once
// Module: owns named parameters, PyTorch conventions (parameters(), named_parameters(), zero_grad()).
// Parameters live in a std::deque so their addresses stay valid as more are added (tapes and optimisers
// hold pointers to them).
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autodiff/parameter.hpp"
#include "autodiff/tensor.hpp"

namespace tapelab::nn {

using Param = Parameter<double>;

struct NamedParameter {
  std::string name;
  Param* parameter;
};

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;  // tapes and optimisers hold pointers into the parameters
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // All parameters in registration order (frozen ones included; check requires_grad).
  std::vector<Param*> parameters();
  std::vector<NamedParameter> named_parameters();
  // The parameter called `name`; throws std::invalid_argument naming it if there is none.
  Param& parameter(const std::string& name);
  void zero_grad();
  // Total number of scalars.
  std::size_t parameter_count() const;

 protected:
  // Registers a parameter; names must be unique.
  Param& add_parameter(std::string name, Tensor<double> initial, bool trainable = true);

 private:
  std::deque<Param> storage_;
  std::vector<std::string> names_;
  // name -> position: a deep network has tens of thousands of parameters, and X6 looks each one up by name
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace tapelab::nn
