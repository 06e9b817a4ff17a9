#include "experiments/ode.hpp"

#include <stdexcept>

#include "kernels/elementwise.hpp"

namespace tapelab::experiments {

void rk4(nn::Matrix& Y, double s0, double s1, int steps, const VectorField& f, const Observer& observe) {
  if (steps < 1) throw std::invalid_argument("rk4: steps must be >= 1");
  const index_t r = Y.rows(), c = Y.cols();
  const double h = (s1 - s0) / double(steps);
  nn::Matrix k1(r, c), k2(r, c), k3(r, c), k4(r, c), tmp(r, c);
  // tmp = Y + a k
  auto shifted = [&](const nn::Matrix& k, double a) {
    kernels::copy(r, c, Y.data(), c, tmp.data(), c);
    kernels::axpy(r, c, a, k.data(), c, tmp.data(), c);
  };
  if (observe) observe(0, s0, Y);
  for (int i = 0; i < steps; ++i) {
    const double s = s0 + h * double(i);
    f(s, Y, k1);
    shifted(k1, h / 2);
    f(s + h / 2, tmp, k2);
    shifted(k2, h / 2);
    f(s + h / 2, tmp, k3);
    shifted(k3, h);
    f(s + h, tmp, k4);
    // Y += h/6 (k1 + 2 k2 + 2 k3 + k4)
    kernels::axpy(r, c, h / 6, k1.data(), c, Y.data(), c);
    kernels::axpy(r, c, h / 3, k2.data(), c, Y.data(), c);
    kernels::axpy(r, c, h / 3, k3.data(), c, Y.data(), c);
    kernels::axpy(r, c, h / 6, k4.data(), c, Y.data(), c);
    if (observe) observe(i + 1, s0 + h * double(i + 1), Y);
  }
}

}  // namespace tapelab::experiments
