#include "experiments/plots.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace tapelab::experiments {
namespace {

// Single-quoted for the shell.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// plot.py next to the executable (the build copies it there), else in the source tree.
std::string find_script() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = exe.parent_path() / "plot.py";
    if (std::filesystem::exists(beside)) return beside.string();
  }
  const std::filesystem::path source = std::filesystem::path(TAPELAB_SOURCE_DIR) / "experiments" / "plot.py";
  return std::filesystem::exists(source) ? source.string() : std::string();
}

bool runs_ok(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A python3 that can import matplotlib (Agg backend, no display needed), or "".
std::string find_python() {
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (runs_ok(std::string(candidate) + " -c 'import matplotlib' >/dev/null 2>&1")) return candidate;
  return {};
}

}  // namespace

std::string make_plots(const std::string& dir) {
  const std::string script = find_script();
  if (script.empty()) return "plots skipped: experiments/plot.py not found";
  static const std::string python = find_python();
  if (python.empty()) return "plots skipped: no python3 with matplotlib (apt-get install python3-matplotlib)";
  if (!runs_ok("MPLBACKEND=Agg " + python + " " + quoted(script) + " " + quoted(dir) + " >&2"))
    return "plots FAILED: " + python + " " + script + " exited with an error (see above)";
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) count += entry.path().extension() == ".png";
  return "plots: " + std::to_string(count) + " PNG file" + (count == 1 ? "" : "s");
}

}  // namespace tapelab::experiments
