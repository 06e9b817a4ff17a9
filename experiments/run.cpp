#include "experiments/run.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include <omp.h>

#include "experiments/plots.hpp"
#include "kernels/target.hpp"
#include "nn/atomic_file.hpp"

namespace tapelab::experiments {
namespace {

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A short form for the terminal: 4 significant digits.
std::string short_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string utc_timestamp(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

nlohmann::json bound_json(double b) { return std::isinf(b) ? nlohmann::json(nullptr) : nlohmann::json(b); }

}  // namespace

void CsvTable::add_row(std::vector<Cell> row) {
  if (row.size() != columns_.size())
    throw std::logic_error("CsvTable: a row of " + std::to_string(row.size()) + " cells for " +
                           std::to_string(columns_.size()) + " columns");
  rows_.push_back(std::move(row));
}

std::string CsvTable::str() const {
  std::string out;
  for (std::size_t j = 0; j < columns_.size(); ++j) {
    if (j) out += ',';
    out += columns_[j];
  }
  out += '\n';
  for (const auto& row : rows_) {
    for (std::size_t j = 0; j < row.size(); ++j) {
      if (j) out += ',';
      if (const double* d = std::get_if<double>(&row[j])) out += format_number(*d);
      else if (const long long* i = std::get_if<long long>(&row[j])) out += std::to_string(*i);
      else out += std::get<std::string>(row[j]);
    }
    out += '\n';
  }
  return out;
}

std::string default_output_dir(const std::string& id) {
  const std::string base = "results/" + id + "-" + utc_timestamp("%Y%m%d-%H%M%S");
  std::string dir = base;
  for (int i = 2; std::filesystem::exists(dir); ++i) dir = base + "-" + std::to_string(i);
  return dir;
}

std::string version_string() {
  std::string available;
  for (kernels::Target t : kernels::available_targets()) {
    if (!available.empty()) available += ' ';
    available += kernels::target_name(t);
  }
  return "tapelab " TAPELAB_VERSION ", SIMD target " + std::string(kernels::target_name(kernels::active_target())) +
         " (available: " + available + "), " + std::to_string(omp_get_max_threads()) + " threads";
}

Run::Run(ExperimentInfo info, RunOptions options, nlohmann::json parameters)
    : info_(std::move(info)),
      options_(std::move(options)),
      dir_(options_.out_dir.empty() ? default_output_dir(info_.id) : options_.out_dir),
      threads_(options_.threads > 0 ? options_.threads : omp_get_max_threads()),
      start_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_))
    throw std::runtime_error("cannot create the output folder '" + dir_ + "': " + ec.message());
  // The experiments without a --precision flag compute in double.
  const nlohmann::json precision = parameters.contains("precision") ? parameters["precision"] : nlohmann::json("double");
  nlohmann::json config = {
      {"experiment", info_.id},
      {"title", info_.title},
      {"paper", info_.paper},
      {"parameters", std::move(parameters)},
      {"seed", options_.seed},
      {"quick", options_.quick},
      {"threads", threads_},
      {"version", TAPELAB_VERSION},
      {"simd_target", std::string(kernels::target_name(kernels::active_target()))},
      {"precision", precision},
      {"started_utc", utc_timestamp("%Y-%m-%dT%H:%M:%SZ")},
      {"command_line", options_.command_line},
  };
  write_json("config.json", config);
}

void Run::write_csv(const std::string& file, const CsvTable& table) const {
  nn::write_file_atomically(path(file), table.str());
}

void Run::write_text(const std::string& file, const std::string& text) const {
  nn::write_file_atomically(path(file), text);
}

void Run::write_json(const std::string& file, const nlohmann::json& value) const {
  nn::write_file_atomically(path(file), value.dump(2) + "\n");
}

const Criterion& Run::criterion(std::string name, double value, double lo, double hi, std::string description) {
  const bool pass = !std::isnan(value) && lo <= value && value <= hi;
  criteria_.push_back({std::move(name), value, lo, hi, pass, std::move(description)});
  return criteria_.back();
}

void Run::note(std::string text) { notes_.push_back(std::move(text)); }

bool Run::passed() const {
  if (criteria_.empty()) return false;
  for (const Criterion& c : criteria_)
    if (!c.pass) return false;
  return true;
}

double Run::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Run::finish() {
  const double elapsed = elapsed_seconds();
  nlohmann::json out = summary_;
  out["experiment"] = info_.id;
  out["title"] = info_.title;
  out["paper"] = info_.paper;
  out["claim"] = info_.claim;
  out["elapsed_seconds"] = elapsed;
  nlohmann::json list = nlohmann::json::array();
  for (const Criterion& c : criteria_)
    list.push_back({{"name", c.name},
                    {"value", std::isfinite(c.value) ? nlohmann::json(c.value) : nlohmann::json(format_number(c.value))},
                    {"lo", bound_json(c.lo)},
                    {"hi", bound_json(c.hi)},
                    {"pass", c.pass},
                    {"description", c.description}});
  out["criteria"] = list;
  out["pass"] = passed();
  out["notes"] = notes_;
  write_json("summary.json", out);

  const std::string plots = options_.plots ? make_plots(dir_) : "plots skipped (--no-plots)";

  std::ostringstream s;
  s << "\n" << info_.id << "  " << info_.title << "  (" << info_.paper << ")   " << short_number(elapsed)
    << " s\n";
  std::size_t width = 9;
  for (const Criterion& c : criteria_) width = std::max(width, c.name.size());
  for (const Criterion& c : criteria_) {
    std::string range = "[";
    range += std::isinf(c.lo) ? std::string("-inf") : short_number(c.lo);
    range += ", ";
    range += std::isinf(c.hi) ? std::string("inf") : short_number(c.hi);
    range += "]";
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s  %12s  in %-20s %s\n", int(width), c.name.c_str(),
                  short_number(c.value).c_str(), range.c_str(), c.pass ? "PASS" : "FAIL");
    s << line;
  }
  for (const std::string& n : notes_) s << "  note: " << n << "\n";
  std::size_t passed_count = 0;
  for (const Criterion& c : criteria_) passed_count += c.pass;
  if (criteria_.empty())
    s << "  " << info_.id << ": no criterion was checked (see the notes)";
  else
    s << "  " << info_.id << ": " << (passed() ? "PASS" : "FAIL") << " (" << passed_count << "/" << criteria_.size()
      << " criteria)";
  s << "   results: " << dir_ << "   " << plots << "\n";
  std::cout << s.str() << std::flush;
}

}  // namespace tapelab::experiments
