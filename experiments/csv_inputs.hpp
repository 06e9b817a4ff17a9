#pragma once
// Data and initial weights from CSV files, so that a training experiment (X6, X11) can be compared number for
// number with another implementation run on the same inputs. Files hold one row per sample (data) or one
// row per matrix row (weights); errors name the file, the expected and the found shape.
#include <string>

#include "nn/data.hpp"
#include "nn/init.hpp"

namespace tapelab::experiments {

// A data file with one row per sample, `dim` numbers per row, returned as dim x n (one column per sample).
nn::Matrix read_samples_csv(const std::string& path, index_t dim, const std::string& flag);
// Inputs (--x) and targets (--y) of a supervised data set, both with `dim` numbers per row and the same number of
// rows.
nn::Dataset read_dataset_csv(const std::string& x_path, const std::string& y_path, index_t dim);
// A stack of `count` matrices of rows x cols, one matrix row per CSV row (count * rows rows in all).
nn::WeightPath read_matrix_stack_csv(const std::string& path, std::size_t count, index_t rows, index_t cols,
                                     const std::string& flag);

// The inverse of the readers, 17 significant digits (round-trip exact): a run writes the inputs it used, so
// that another implementation, or a second run with --x/--y/--w0, can start from exactly the same numbers.
std::string samples_csv(const nn::Matrix& x);             // x is dim x n: n rows of dim numbers
std::string matrix_stack_csv(const nn::WeightPath& path);  // matrices stacked row by row

}  // namespace tapelab::experiments
