#pragma once
// Full reductions to a 1x1 Var: sum, mean, squared Frobenius norm.
#include "autodiff/tape.hpp"

namespace tapelab {

// a: r x c -> 1x1
template <class T>
Var<T> sum(const Var<T>& a);  // Σ a_ij                 da += g
template <class T>
Var<T> mean(const Var<T>& a);  // Σ a_ij / (r c)         da += g / (r c)
template <class T>
Var<T> squared_norm(const Var<T>& a);  // Σ a_ij² = ‖a‖_F²       da += 2 g a

}  // namespace tapelab
