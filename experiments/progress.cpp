#include "experiments/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace tapelab::experiments {

Progress::Progress(std::string label, std::size_t items, std::string unit, double total_work)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      items_(items),
      total_work_(total_work > 0 ? total_work : double(items)),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(double work) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_items_;
  done_work_ += work;
  print_locked(false);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  print_locked(true);
}

void Progress::print_locked(bool final) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = total_work_ > 0 ? done_work_ / total_work_ : 1.0;
  if (!final) {
    if (tty_) {
      if (now - last_print_ < std::chrono::milliseconds(250)) return;
    } else {
      const int decile = int(fraction * 10.0);
      if (decile <= printed_decile_ || elapsed < 2.0) return;
      printed_decile_ = decile;
    }
  }
  last_print_ = now;
  char eta[48] = "";
  if (!final && fraction > 0.0) std::snprintf(eta, sizeof eta, ", ETA %.1f s", elapsed * (1.0 - fraction) / fraction);
  std::fprintf(stderr, "%s%s: %zu/%zu %s, %.1f s elapsed%s%s", tty_ ? "\r\033[K" : "", label_.c_str(), done_items_,
               items_, unit_.c_str(), elapsed, eta, (final || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace tapelab::experiments
