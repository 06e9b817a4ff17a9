// The PyTorch oracle: small residual networks whose inputs, weights, loss and every gradient (including
// dl/dh_k) were computed by PyTorch in float64 (tests/autodiff/make_torch_fixtures.py documents the network,
// the file format and how to regenerate; the fixture files are committed). tapelab must agree to 1e-10
// relative error, with the fused residual step and with its reference composition.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autodiff/autodiff.hpp"

namespace tapelab {
namespace {

using kernels::Activation;

constexpr double kRelativeTolerance = 1e-10;

struct Fixture {
  std::map<std::string, std::string> config;
  std::vector<int> labels;
  std::map<std::string, Tensor<double>> tensors;

  const Tensor<double>& at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw std::runtime_error("fixture has no tensor " + name);
    return it->second;
  }
  int integer(const std::string& key) const { return std::stoi(config.at(key)); }
};

Fixture read_fixture(const std::string& name) {
  const std::string path = std::string(TAPELAB_TEST_DATA_DIR) + "/" + name + ".txt";
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open " + path +
                             " (regenerate with tests/autodiff/make_torch_fixtures.py)");
  Fixture f;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "config") {
      std::string key, value;
      while (s >> key >> value) f.config[key] = value;
    } else if (kind == "labels") {
      std::size_t n = 0;
      s >> n;
      f.labels.resize(n);
      for (int& l : f.labels) in >> l;
    } else if (kind == "tensor") {
      std::string tensor_name;
      index_t rows = 0, cols = 0;
      s >> tensor_name >> rows >> cols;
      Tensor<double> t(rows, cols);
      for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j) in >> t(i, j);
      f.tensors.emplace(tensor_name, std::move(t));
    } else {
      throw std::runtime_error("unknown line in " + path + ": " + line);
    }
    if (!in) throw std::runtime_error("truncated fixture " + path);
  }
  return f;
}

// Largest |received - expected| / max(|expected|, 1e-3 * max|expected|) over a tensor: relative error, with
// the tensor's own scale as the floor so that an entry that is zero up to rounding does not divide by ~0.
double relative_error(TensorView<const double> received, const Tensor<double>& expected) {
  EXPECT_EQ(received.rows, expected.rows());
  EXPECT_EQ(received.cols, expected.cols());
  double scale = 0;
  for (index_t i = 0; i < expected.rows(); ++i)
    for (index_t j = 0; j < expected.cols(); ++j) scale = std::fmax(scale, std::fabs(expected(i, j)));
  double worst = 0;
  for (index_t i = 0; i < expected.rows(); ++i)
    for (index_t j = 0; j < expected.cols(); ++j) {
      const double denom = std::fmax(std::fabs(expected(i, j)), 1e-3 * scale);
      worst = std::fmax(worst, std::fabs(received(i, j) - expected(i, j)) / (denom > 0 ? denom : 1));
    }
  return worst;
}

void check_against_torch(const std::string& fixture_name, bool fused) {
  SCOPED_TRACE(fixture_name + (fused ? " (fused residual_step)" : " (reference composition)"));
  const Fixture f = read_fixture(fixture_name);
  const int L = f.integer("L");
  const bool has_bias = f.integer("bias") != 0, has_v = f.integer("V") != 0;
  const double alpha = std::stod(f.config.at("alpha"));
  Activation act{};
  ASSERT_TRUE(kernels::parse_activation(f.config.at("activation"), act)) << f.config.at("activation");

  // Parameters from the fixture's values.
  std::map<std::string, Parameter<double>> params;
  for (const auto& [name, t] : f.tensors)
    if (name == "A" || name == "C" || name[0] == 'W' || name[0] == 'b' || name[0] == 'V')
      params.emplace(name, Parameter<double>(t));

  Tape<double> tape;
  const Var<double> x = tape.variable(f.at("x"));
  std::vector<Var<double>> hs{matmul(tape.param(params.at("A")), x)};
  for (int k = 0; k < L; ++k) {
    const std::string s = std::to_string(k);
    ResidualStep<double> step{.W = tape.param(params.at("W_" + s)), .alpha = alpha, .act = act};
    if (has_v) step.V = tape.param(params.at("V_" + s));
    if (has_bias) step.b = tape.param(params.at("b_" + s));
    hs.push_back(fused ? residual_step(hs.back(), step) : residual_step_reference(hs.back(), step));
  }
  for (const Var<double>& h : hs) h.retain_grad();
  const Var<double> y = matmul(tape.param(params.at("C")), hs.back());
  const Var<double> loss = f.config.at("loss") == "mse" ? mse(y, tape.constant(f.at("target")))
                                                        : softmax_cross_entropy(y, f.labels);
  tape.backward(loss);

  EXPECT_NEAR(loss.item(), f.at("loss")(0, 0), kRelativeTolerance * std::fabs(f.at("loss")(0, 0))) << "loss";
  EXPECT_LE(relative_error(x.grad(), f.at("grad_x")), kRelativeTolerance) << "grad_x";
  for (const auto& [name, p] : params)
    EXPECT_LE(relative_error(p.grad, f.at("grad_" + name)), kRelativeTolerance) << "grad_" << name;
  for (int k = 0; k <= L; ++k)
    EXPECT_LE(relative_error(hs[std::size_t(k)].grad(), f.at("grad_h_" + std::to_string(k))),
              kRelativeTolerance)
        << "dl/dh_" << k;
}

class TorchOracle : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchOracle, FusedResidualStepMatchesPyTorch) { check_against_torch(GetParam(), true); }
TEST_P(TorchOracle, ReferenceCompositionMatchesPyTorch) { check_against_torch(GetParam(), false); }

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchOracle,
                         ::testing::Values("resnet_tanh_bias", "resnet_gelu_erf_nobias",
                                           "resnet_gelu_tanh_bias", "resnet_softplus_identity_v",
                                           "resnet_sigmoid_xent"));

}  // namespace
}  // namespace tapelab
