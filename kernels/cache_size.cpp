#include "kernels/cache_size.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace tapelab::kernels {

namespace detail {

std::size_t parse_cache_size(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::size_t value = 0, digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (digits == 15) return 0;  // no cache is a petabyte: not a size
    value = value * 10 + std::size_t(text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return 0;
  const std::string_view unit = text.substr(digits);
  if (unit.empty()) return value;
  if (unit == "K") return value << 10;
  if (unit == "M") return value << 20;
  if (unit == "G") return value << 30;
  return 0;
}

}  // namespace detail

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

std::size_t read_last_level_cache_bytes() {
  int best_level = 0;
  std::size_t best_size = 0;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::string level, type, size;
    if (!read_file(dir + "level", level)) break;
    if (!read_file(dir + "type", type) || !read_file(dir + "size", size)) continue;
    if (type.rfind("Instruction", 0) == 0) continue;
    const int l = std::atoi(level.c_str());
    const std::size_t bytes = detail::parse_cache_size(size);
    if (l > best_level && bytes > 0) {
      best_level = l;
      best_size = bytes;
    }
  }
  return best_size;
}

}  // namespace

std::size_t last_level_cache_bytes() {
  static const std::size_t bytes = read_last_level_cache_bytes();  // the machine does not change
  return bytes;
}

}  // namespace tapelab::kernels
