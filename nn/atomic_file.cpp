#include "nn/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace tapelab::nn {

void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot create '" + temp + "': " + std::strerror(errno));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      throw std::runtime_error(path + ": write to '" + temp + "' failed: " + err);
    }
    written += std::size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw std::runtime_error(path + ": could not flush '" + temp + "' to disk");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(temp.c_str());
    throw std::runtime_error(path + ": could not rename '" + temp + "' into place: " + err);
  }
}

void write_file_atomically(const std::string& path, std::string_view text) {
  write_file_atomically(path, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

}  // namespace tapelab::nn
