#pragma once
// Var<T>: a cheap handle (16 bytes, copied by value) to one slot of a Tape: a value, and after backward a
// gradient. A Var remembers the tape generation it was made in; tape.clear() starts a new generation, and any
// use of an older Var throws UsageError instead of reading memory the arena has handed to someone else. The
// tape must outlive its Vars. The member functions are defined in tape.hpp (which includes this file).
#include <cstdint>

#include "autodiff/tensor.hpp"

namespace tapelab {

template <class T>
class Tape;

template <class T>
class Var {
 public:
  Var() = default;  // empty: "no argument" where an op takes an optional Var (residual_step's V and b)

  bool empty() const { return tape_ == nullptr; }
  explicit operator bool() const { return tape_ != nullptr; }
  Tape<T>& tape() const;  // throws UsageError if empty or stale
  index_t rows() const;
  index_t cols() const;
  TensorView<const T> value() const;  // the value; stays valid until tape.clear()
  T item() const;                     // the value of a 1x1 Var
  bool requires_grad() const;
  // The gradient after backward: of a leaf variable or parameter always; of an intermediate only if
  // retain_grad() was called on it before backward (dl/dh_k, the backward dynamics).
  TensorView<const T> grad() const;
  bool has_grad() const;
  void retain_grad() const;
  std::uint32_t slot() const { return slot_; }
  Tape<T>* tape_pointer() const { return tape_; }  // unchecked; ops validate with Tape::check_arg

 private:
  friend class Tape<T>;
  Var(Tape<T>* tape, std::uint32_t slot, std::uint32_t generation)
      : tape_(tape), slot_(slot), generation_(generation) {}
  void check() const;

  Tape<T>* tape_ = nullptr;
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
};

}  // namespace tapelab
