#pragma once
// Losses, each a 1x1 Var.
#include <span>

#include "autodiff/tape.hpp"

namespace tapelab {

// Mean squared error over all entries: (1/n) Σ (pred - target)², n = r c.   pred, target: r x c -> 1x1
template <class T>
Var<T> mse(const Var<T>& pred, const Var<T>& target);

// Softmax cross-entropy with integer labels, averaged over the batch, in the column-per-sample layout:
//   logits: C x B (classes x batch), labels: B entries in [0, C)  ->  1x1
//   loss = (1/B) Σ_j [ logsumexp(logits[:, j]) - logits[labels[j], j] ]
// The labels are copied onto the tape.
template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::span<const int> labels);

}  // namespace tapelab
