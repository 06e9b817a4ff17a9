#pragma once
// The errors autodiff throws. Every message names the op and, for shapes, both shapes, so a user can find the
// offending line without a debugger (Stan Math style: "matmul: lhs is 16x32 but rhs is 16x256 ...").
//
//   Error          base of everything below (a std::runtime_error)
//   ShapeError     operands whose shapes do not fit the op
//   UsageError     the tape used wrongly: a Var from a cleared tape, backward twice, a gradient not retained
//   ... AnomalyError   anomaly detection found a NaN or Inf; names the first op that produced it
#include <stdexcept>
#include <string>
#include <string_view>

#include "kernels/common.hpp"

namespace tapelab {

using kernels::index_t;

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error {
 public:
  using Error::Error;
};
class UsageError : public Error {
 public:
  using Error::Error;
};
class AnomalyError : public Error {
 public:
  using Error::Error;
};

// "16x32"
inline std::string shape_string(index_t rows, index_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// "<op>: <lhs_name> is RxC but <rhs_name> is RxC (<why>)"
[[noreturn]] inline void throw_shape_error(std::string_view op, std::string_view lhs_name, index_t lhs_rows,
                                           index_t lhs_cols, std::string_view rhs_name, index_t rhs_rows,
                                           index_t rhs_cols, std::string_view why) {
  std::string msg(op);
  msg += ": ";
  msg += lhs_name;
  msg += " is " + shape_string(lhs_rows, lhs_cols) + " but ";
  msg += rhs_name;
  msg += " is " + shape_string(rhs_rows, rhs_cols) + " (";
  msg += why;
  msg += ")";
  throw ShapeError(msg);
}

}  // namespace tapelab
