#pragma once
// Helpers every op uses to validate its arguments (internal to autodiff/ops/*.cpp).
#include <string>

#include "autodiff/errors.hpp"
#include "autodiff/tape.hpp"

namespace tapelab::ops_detail {

// The tape of the op's arguments: each must be a live Var of the same tape, else UsageError naming the op.
template <class T>
Tape<T>& common_tape(const char* op, const char* name, const Var<T>& v) {
  if (v.empty()) throw UsageError(std::string(op) + ": " + name + " is an empty Var");
  Tape<T>& tape = *v.tape_pointer();
  tape.check_arg(op, name, v);
  return tape;
}
template <class T, class... More>
Tape<T>& common_tape(const char* op, const char* name, const Var<T>& v, const More&... more) {
  Tape<T>& tape = common_tape(op, name, v);
  (void)std::initializer_list<int>{(tape.check_arg(op, more.name, more.var), 0)...};
  return tape;
}
template <class T>
struct Named {
  const char* name;
  const Var<T>& var;
};

// "<op>: <a> is 3x4 but <b> is 3x5 (shapes must match)"
template <class T>
void check_same_shape(const char* op, const char* a_name, const Var<T>& a, const char* b_name,
                      const Var<T>& b) {
  const Slot<T>& sa = a.tape_pointer()->slot(a.slot());
  const Slot<T>& sb = b.tape_pointer()->slot(b.slot());
  if (sa.rows != sb.rows || sa.cols != sb.cols)
    throw_shape_error(op, a_name, sa.rows, sa.cols, b_name, sb.rows, sb.cols, "shapes must match");
}

}  // namespace tapelab::ops_detail
