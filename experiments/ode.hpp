#pragma once
// The classical fourth-order Runge-Kutta method, for the reference solutions of the neural ODEs the ResNets
// converge to (P4 Prop. 2, X5; the backward/adjoint ODE of P3, X12). Its error is O(step^4): with 2^12 steps
// it is at rounding level for the smooth vector fields used here, so the ResNets' O(1/L) error is measured
// against the limit itself, not against another discretisation.
#include <functional>

#include "nn/init.hpp"

namespace tapelab::experiments {

// f(s, Y, dY) writes dY/ds at (s, Y) into dY (same shape as Y).
using VectorField = std::function<void(double s, const nn::Matrix& Y, nn::Matrix& dY)>;
// observe(i, s, Y) sees the state after step i (i = 0: the initial state).
using Observer = std::function<void(int i, double s, const nn::Matrix& Y)>;

// Integrates dY/ds = f(s, Y) from s0 to s1 (s1 < s0 runs backwards) in `steps` equal steps; Y is updated in
// place.
void rk4(nn::Matrix& Y, double s0, double s1, int steps, const VectorField& f, const Observer& observe = {});

}  // namespace tapelab::experiments
