#pragma once
// NoGradGuard (as torch::NoGradGuard): while one is alive on this thread, ops compute their values on the
// tape but record no node, so nothing is differentiated and no backward state is kept. Guards nest.
namespace tapelab {

namespace detail {
inline thread_local bool grad_mode_enabled = true;
}

inline bool grad_mode_enabled() { return detail::grad_mode_enabled; }

class NoGradGuard {
 public:
  NoGradGuard() : previous_(detail::grad_mode_enabled) { detail::grad_mode_enabled = false; }
  ~NoGradGuard() { detail::grad_mode_enabled = previous_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tapelab
