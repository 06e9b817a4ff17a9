#pragma once
// Plots: experiments/plot.py (matplotlib) turns a run folder's CSV and summary.json into PNG files. It is run
// with Debian's /usr/bin/python3 (python3-matplotlib) if that has matplotlib, else with python3 on PATH;
// without either the run still succeeds and says the plots were skipped.
#include <string>

namespace tapelab::experiments {

// Runs plot.py on `dir`; returns a one-line status ("plots: 3 PNG files" / "plots skipped: ...").
std::string make_plots(const std::string& dir);

}  // namespace tapelab::experiments
