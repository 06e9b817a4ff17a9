#include "autodiff/gradcheck.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/reductions.hpp"

namespace tapelab {

namespace {

std::string format_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}

// <R, f(inputs)> without recording (on one reused tape: no arena allocation per evaluation).
double projected_value(Tape<double>& tape, const GradcheckFunction& f, std::span<const Tensor<double>> inputs,
                       const Tensor<double>& R) {
  tape.clear();
  NoGradGuard no_grad;
  std::vector<Var<double>> args;
  for (const Tensor<double>& x : inputs) args.push_back(tape.constant(x.view()));
  const Var<double> out = f(tape, args);
  const TensorView<const double> y = out.value();
  return kernels::dot(y.rows, y.cols, y.data, y.ld, R.data(), R.ld());
}

}  // namespace

GradcheckResult gradcheck(std::string_view name, const GradcheckFunction& f,
                          std::span<const Tensor<double>> inputs, const GradcheckOptions& opt) {
  GradcheckResult result;

  // Analytic: backward(out, R).
  Tape<double> tape;
  std::vector<Var<double>> args;
  for (const Tensor<double>& x : inputs) args.push_back(tape.variable(x.view()));
  const Var<double> out = f(tape, args);
  for (const Node<double>& n : tape.nodes()) result.ops_recorded.insert(Tape<double>::node_label(n));
  const Tensor<double> R =
      Tensor<double>::uniform(out.rows(), out.cols(), opt.seed ^ 0x9e3779b97f4a7c15ull, -1, 1);
  tape.backward(out, R.view());

  // Numeric: central differences on copies of the inputs.
  std::vector<Tensor<double>> x(inputs.begin(), inputs.end());
  Tape<double> eval_tape;
  for (std::size_t a = 0; a < x.size(); ++a) {
    const bool has_grad = args[a].has_grad();
    for (index_t i = 0; i < x[a].rows(); ++i)
      for (index_t j = 0; j < x[a].cols(); ++j) {
        const double saved = x[a](i, j);
        x[a](i, j) = saved + opt.step;
        const double plus = projected_value(eval_tape, f, x, R);
        x[a](i, j) = saved - opt.step;
        const double minus = projected_value(eval_tape, f, x, R);
        x[a](i, j) = saved;
        const double expected = (plus - minus) / (2 * opt.step);
        const double received = has_grad ? args[a].grad()(i, j) : 0.0;
        const double err = std::fabs(received - expected);
        if (!(err <= result.max_abs_error)) result.max_abs_error = err;  // NaN-propagating max
        if (result.ok && !(err <= opt.atol + opt.rtol * std::fabs(expected))) {
          result.ok = false;
          result.message =
              "gradcheck failed for " + std::string(name) + ": argument " + std::to_string(a) + " (" +
              shape_string(x[a].rows(), x[a].cols()) + ") at index (" + std::to_string(i) + ", " +
              std::to_string(j) + "): expected " + format_double(expected) +
              " (central finite differences, h = " + format_double(opt.step) + ") but backward gave " +
              format_double(received) + " (|difference| " + format_double(err) + " > tolerance " +
              format_double(opt.atol + opt.rtol * std::fabs(expected)) + ")";
        }
      }
  }
  return result;
}

}  // namespace tapelab
