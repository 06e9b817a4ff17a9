#pragma once
// Atomic file output: the content goes to "<path>.tmp", is flushed to disk, then renamed over <path>. A reader
// (or a crash) never sees a half-written file under the final name: either the old file or the new one.
#include <span>
#include <string>
#include <string_view>

namespace tapelab::nn {

// Throws std::runtime_error naming the path and the system error (cannot create, write or rename).
void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes);
void write_file_atomically(const std::string& path, std::string_view text);

}  // namespace tapelab::nn
