#include "nn/train.hpp"

#include "nn/finite.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace tapelab::nn {
namespace {

// First non-finite entry of t, as "(i, j)", or empty.
std::string first_non_finite(const Tensor<double>& t, double& value) {
  for (index_t i = 0; i < t.rows(); ++i)
    for (index_t j = 0; j < t.cols(); ++j)
      if (!std::isfinite(t(i, j))) {
        value = t(i, j);
        std::ostringstream where;  // (not string operator+: GCC 12 emits a false -Wrestrict for it here)
        where << "(" << i << ", " << j << ")";
        return where.str();
      }
  return {};
}

// Are all values (if `values`) and all gradients (if `gradients`) of the parameters finite? One sweep.
FiniteScan scan(const std::vector<Param*>& params, bool values, bool gradients) {
  return detail::scan_finite(params, values, gradients, [](std::size_t) {});
}

// Throws NonFiniteError naming the first parameter (registration order) whose value (or gradient) is not
// finite. Only called once a scan found one: named_parameters() builds a string per parameter, which on a
// deep network would cost more than the scan itself.
[[noreturn]] void report_first_bad(long long iteration, Module& module, bool gradients) {
  for (const NamedParameter& np : module.named_parameters()) {
    double bad = 0.0;
    const std::string where = first_non_finite(gradients ? np.parameter->grad : np.parameter->value, bad);
    if (!where.empty()) {
      std::ostringstream msg;
      msg << "iteration " << iteration << ": " << (gradients ? "gradient of parameter '" : "parameter '")
          << np.name << "' is " << bad << " at " << where;
      throw NonFiniteError(iteration, msg.str());
    }
  }
  throw std::logic_error("report_first_bad: no non-finite entry after all");
}

// Values before gradients, as the messages promise: a bad value is reported even if a gradient is bad too.
void report_scan(long long iteration, Module& module, const FiniteScan& found) {
  if (!found.values) report_first_bad(iteration, module, false);
  if (!found.gradients) report_first_bad(iteration, module, true);
}

void check_values(long long iteration, Module& module) {
  if (!scan(module.parameters(), true, false).values) report_first_bad(iteration, module, false);
}

double update_and_check(long long iteration, double loss, Module& module, Optimizer& optimizer) {
  // The update and the check of the updated values in one sweep where the optimizer can (GradientDescent).
  // Only what the optimizer changed can have become non-finite; the rest was checked above.
  if (!optimizer.step_and_check_finite()) check_values(iteration, module);
  return loss;
}

}  // namespace

void check_finite(long long iteration, double loss, Module& module) {
  if (!std::isfinite(loss)) {
    std::ostringstream msg;
    msg << "iteration " << iteration << ": loss is " << loss;
    // Name the first bad parameter too when there is one (the usual cause of a bad loss).
    try {
      check_values(iteration, module);
    } catch (const NonFiniteError& e) {
      msg << "; " << e.what();
    }
    throw NonFiniteError(iteration, msg.str());
  }
  report_scan(iteration, module, scan(module.parameters(), true, true));
}

void report_non_finite_loss(long long iteration, double loss, Tape<double>& tape, Module& module,
                            const std::function<Var<double>(Tape<double>&)>& make_loss) {
  try {
    check_finite(iteration, loss, module);  // throws: names the first bad parameter too, if there is one
  } catch (const NonFiniteError& e) {
    if (tape.anomaly_detection()) throw;  // the forward pass was checked op by op already
    // The parameters may all be finite (an overflow inside the forward pass): replay the forward pass with
    // anomaly detection to name the op, and so the layer, where the first non-finite value appeared.
    std::string where;
    tape.clear();
    {
      // On for the replay only, whatever make_loss throws.
      struct AnomalyDetectionOn {
        Tape<double>& tape;
        explicit AnomalyDetectionOn(Tape<double>& t) : tape(t) { tape.set_anomaly_detection(true); }
        ~AnomalyDetectionOn() { tape.set_anomaly_detection(false); }
      } on(tape);
      try {
        make_loss(tape);
      } catch (const AnomalyError& anomaly) {
        where =
            std::string("; replayed: ") + anomaly.what();  // "anomaly detection: op #k ... in layers.j ..."
      }
    }
    throw NonFiniteError(iteration, e.what() + where);
  }
  throw std::logic_error("report_non_finite_loss: the loss is finite");
}

double finish_step(long long iteration, double loss, Module& module, Optimizer& optimizer) {
  check_finite(iteration, loss, module);
  return update_and_check(iteration, loss, module, optimizer);
}

double finish_step(long long iteration, double loss, Module& module, Optimizer& optimizer,
                   const FiniteScan& found) {
  if (!std::isfinite(loss)) check_finite(iteration, loss, module);  // throws, naming a bad parameter if any
  report_scan(iteration, module, found);
  return update_and_check(iteration, loss, module, optimizer);
}

double train_step(long long iteration, Tape<double>& tape, Module& module, Optimizer& optimizer,
                  const std::function<Var<double>(Tape<double>&)>& make_loss) {
  tape.clear();
  optimizer.zero_grad();
  const Var<double> loss = make_loss(tape);
  const double value = loss.item();
  if (!std::isfinite(value)) report_non_finite_loss(iteration, value, tape, module, make_loss);
  tape.backward(loss);
  return finish_step(iteration, value, module, optimizer);
}

Var<double> mean_squared_norm_loss(const Var<double>& pred, const Var<double>& target) {
  return mean_squared_norm_loss(pred, target, pred.cols());
}

Var<double> mean_squared_norm_loss(const Var<double>& pred, const Var<double>& target, index_t samples) {
  if (samples < pred.cols())
    throw std::invalid_argument("mean_squared_norm_loss: " + std::to_string(pred.cols()) +
                                " columns cannot be a share of a batch of " + std::to_string(samples));
  return scale(squared_norm(sub(pred, target)), 1.0 / double(samples));
}

std::vector<std::vector<std::size_t>> epoch_batches(Rng& rng, std::size_t n, std::size_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("epoch_batches: batch_size must be positive");
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.uniform_index(i)]);  // Fisher-Yates
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < n; start += batch_size)
    batches.emplace_back(order.begin() + std::ptrdiff_t(start),
                         order.begin() + std::ptrdiff_t(std::min(n, start + batch_size)));
  return batches;
}

Tensor<double> gather_columns(TensorView<const double> x, const std::vector<std::size_t>& indices) {
  Tensor<double> out(x.rows, index_t(indices.size()));
  for (std::size_t c = 0; c < indices.size(); ++c) {
    if (index_t(indices[c]) >= x.cols)
      throw std::invalid_argument("gather_columns: index " + std::to_string(indices[c]) +
                                  " is out of range for " + std::to_string(x.cols) + " columns");
    for (index_t i = 0; i < x.rows; ++i) out(i, index_t(c)) = x(i, index_t(indices[c]));
  }
  return out;
}

}  // namespace tapelab::nn
