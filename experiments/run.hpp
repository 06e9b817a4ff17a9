#pragma once
// Run: one experiment run's output folder and its record.
//
//   DIR/config.json    every parameter, the seed, tapelab's version, the SIMD target, threads, command line
//                      (written when the run starts, so an interrupted run still says what it was)
//   DIR/*.csv          raw data, one row per sweep point / sample / iteration
//   DIR/summary.json   every measured number a criterion uses, under a descriptive key; fitted exponents with
//                      their confidence intervals; "criteria": [{name, value, lo, hi, pass, description}]
//                      (lo/hi null: unbounded on that side); "pass": all criteria passed
//   DIR/*.png          plots (experiments/plot.py, matplotlib), when python3 with matplotlib is found
// Every file is written atomically (temp file + rename).
#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace tapelab::experiments {

struct ExperimentInfo {
  std::string id;     // "X1"
  std::string title;  // "scaling trichotomy at initialisation"
  std::string paper;  // "P5 Fig. 1, 3"
  std::string claim;  // one sentence: what the paper says and what passing means
};

struct RunOptions {
  std::string out_dir;  // empty: results/<id>-<UTC timestamp>
  std::uint64_t seed = 0;
  int threads = 0;  // sweep threads; 0: OpenMP's default (all cores)
  bool quick = false;
  bool plots = true;
  std::string command_line;
};

// A CSV table built row by row; numbers are printed with 17 significant digits (round-trip exact).
class CsvTable {
 public:
  using Cell = std::variant<double, long long, std::string>;
  explicit CsvTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  // Throws std::logic_error if the row's length differs from the header's.
  void add_row(std::vector<Cell> row);
  std::size_t rows() const { return rows_.size(); }
  std::string str() const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<Cell>> rows_;
};

struct Criterion {
  std::string name;
  double value, lo, hi;  // pass iff lo <= value <= hi (a NaN value fails); +-inf: unbounded
  bool pass;
  std::string description;
};

class Run {
 public:
  // Creates the output folder (and its parents) and writes config.json with `parameters`.
  Run(ExperimentInfo info, RunOptions options, nlohmann::json parameters);

  const ExperimentInfo& info() const { return info_; }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  std::uint64_t seed() const { return options_.seed; }
  int threads() const { return threads_; }
  bool quick() const { return options_.quick; }

  void write_csv(const std::string& file, const CsvTable& table) const;
  void write_json(const std::string& file, const nlohmann::json& value) const;
  void write_text(const std::string& file, const std::string& text) const;

  // Measured values for summary.json ("criteria", "pass", "experiment", "elapsed_seconds" are added by
  // finish()).
  nlohmann::json& summary() { return summary_; }
  // Records a pass criterion lo <= value <= hi.
  const Criterion& criterion(std::string name, double value, double lo, double hi, std::string description);
  const std::vector<Criterion>& criteria() const { return criteria_; }
  // A line for the terminal summary and summary.json's "notes" (a deviation, a skipped part).
  void note(std::string text);
  bool passed() const;
  double elapsed_seconds() const;

  // Writes summary.json, makes the plots, prints the one-screen summary to stdout.
  void finish();

 private:
  ExperimentInfo info_;
  RunOptions options_;
  std::string dir_;
  int threads_;
  nlohmann::json summary_ = nlohmann::json::object();
  std::vector<Criterion> criteria_;
  std::vector<std::string> notes_;
  std::chrono::steady_clock::time_point start_;
};

// The default output folder results/<id>-<YYYYmmdd-HHMMSS> (UTC), with -2, -3, ... if it exists.
std::string default_output_dir(const std::string& id);
// "tapelab 0.1.0, SIMD avx512 (available: generic avx2 avx512), 2 threads"
std::string version_string();

}  // namespace tapelab::experiments
