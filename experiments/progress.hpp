#pragma once
// Progress of a long sweep on stderr: "X1: 1200/1500 networks, 6.1 s elapsed, ETA 1.5 s". Work can be
// weighted (a depth-1000 network counts 100 times a depth-10 one) so that the ETA is honest. Thread-safe;
// on a terminal the line is redrawn at most 4 times a second, otherwise a line is printed every 10%.
#include <chrono>
#include <mutex>
#include <string>

namespace tapelab::experiments {

class Progress {
 public:
  Progress(std::string label, std::size_t items, std::string unit, double total_work = 0.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // One item done, carrying `work` units (1 when the work was not weighted).
  void advance(double work = 1.0);
  // Prints the final line (also done by the destructor).
  void finish();

 private:
  void print_locked(bool final);

  std::string label_, unit_;
  std::size_t items_, done_items_ = 0;
  double total_work_, done_work_ = 0.0;
  bool tty_, finished_ = false;
  int printed_decile_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  std::mutex mutex_;
};

}  // namespace tapelab::experiments
