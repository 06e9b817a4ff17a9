#include "nn/checkpoint.hpp"

#include "nn/atomic_file.hpp"

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace tapelab::nn {
namespace {

static_assert(std::endian::native == std::endian::little, "the checkpoint format is little-endian");

constexpr char kMagic[8] = {'T', 'L', 'C', 'K', 'P', 'T', '\r', '\n'};
constexpr std::uint32_t kScalarDouble = 8;

std::uint64_t fnv1a64(const unsigned char* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

struct Entry {
  std::string name;
  Tensor<double>* tensor;
};

// The entries the module and optimiser have, in file order.
std::vector<Entry> expected_entries(Module& module, Optimizer* optimizer, Tensor<double>& steps) {
  std::vector<Entry> out;
  for (const NamedParameter& np : module.named_parameters())
    out.push_back({"param/" + np.name, &np.parameter->value});
  if (optimizer != nullptr) {
    for (const OptimizerState& s : optimizer->state()) out.push_back({"optim/" + s.name, s.tensor});
    out.push_back({"optim/steps", &steps});
  }
  return out;
}

template <class U>
void put(std::vector<unsigned char>& buf, U v) {
  unsigned char b[sizeof(U)];
  std::memcpy(b, &v, sizeof(U));
  buf.insert(buf.end(), b, b + sizeof(U));
}

std::string where(const std::string& path) { return "checkpoint '" + path + "': "; }

class Reader {
 public:
  Reader(const std::string& path, const std::vector<unsigned char>& buf, std::size_t end)
      : path_(path), buf_(buf), end_(end) {}
  template <class U>
  U get(const char* what) {
    need(sizeof(U), what);
    U v;
    std::memcpy(&v, buf_.data() + pos_, sizeof(U));
    pos_ += sizeof(U);
    return v;
  }
  void bytes(void* dst, std::size_t n, const char* what) {
    need(n, what);
    std::memcpy(dst, buf_.data() + pos_, n);
    pos_ += n;
  }
  std::size_t position() const { return pos_; }

 private:
  void need(std::size_t n, const char* what) {
    if (n > end_ - pos_)
      throw std::runtime_error(where(path_) + "truncated or malformed: " + what +
                               " runs past the end of the data");
  }
  const std::string& path_;
  const std::vector<unsigned char>& buf_;
  std::size_t end_;
  std::size_t pos_ = 0;
};

}  // namespace

void save_checkpoint(const std::string& path, Module& module, Optimizer* optimizer) {
  Tensor<double> steps = Tensor<double>::filled(1, 1, optimizer ? double(optimizer->steps_taken()) : 0.0);
  const std::vector<Entry> entries = expected_entries(module, optimizer, steps);
  std::vector<unsigned char> buf(kMagic, kMagic + 8);
  put<std::uint32_t>(buf, kCheckpointVersion);
  put<std::uint32_t>(buf, kScalarDouble);
  put<std::uint64_t>(buf, entries.size());
  for (const Entry& e : entries) {
    put<std::uint32_t>(buf, std::uint32_t(e.name.size()));
    buf.insert(buf.end(), e.name.begin(), e.name.end());
    put<std::int64_t>(buf, e.tensor->rows());
    put<std::int64_t>(buf, e.tensor->cols());
    const auto* data = reinterpret_cast<const unsigned char*>(e.tensor->data());
    buf.insert(buf.end(), data, data + std::size_t(e.tensor->size()) * sizeof(double));
  }
  put<std::uint64_t>(buf, fnv1a64(buf.data(), buf.size()));

  try {
    write_file_atomically(path, std::span<const unsigned char>(buf));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("checkpoint " + std::string(e.what()));
  }
}

void load_checkpoint(const std::string& path, Module& module, Optimizer* optimizer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(where(path) + "cannot open: " + std::strerror(errno));
  const std::vector<unsigned char> buf((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
  if (buf.size() < 8 + 4 + 4 + 8 + 8)
    throw std::runtime_error(where(path) + "truncated: " + std::to_string(buf.size()) +
                             " bytes is shorter than the header and checksum");
  if (std::memcmp(buf.data(), kMagic, 8) != 0)
    throw std::runtime_error(where(path) + "not a tapelab checkpoint (bad magic number)");
  std::uint32_t version = 0, scalar = 0;
  std::memcpy(&version, buf.data() + 8, 4);
  std::memcpy(&scalar, buf.data() + 12, 4);
  if (version != kCheckpointVersion)
    throw std::runtime_error(where(path) + "format version " + std::to_string(version) +
                             ", this build reads version " + std::to_string(kCheckpointVersion));
  if (scalar != kScalarDouble)
    throw std::runtime_error(where(path) + "scalar type of " + std::to_string(scalar) +
                             " bytes; only double (8) is supported");
  const std::size_t body = buf.size() - 8;
  std::uint64_t stored = 0;
  std::memcpy(&stored, buf.data() + body, 8);
  if (stored != fnv1a64(buf.data(), body))
    throw std::runtime_error(where(path) + "checksum mismatch: the file is truncated or corrupted");

  Reader r(path, buf, body);
  unsigned char skip[16];
  r.bytes(skip, 16, "the header");
  const auto count = r.get<std::uint64_t>("the entry count");
  Tensor<double> steps(1, 1);
  const std::vector<Entry> expected = expected_entries(module, optimizer, steps);
  std::vector<Tensor<double>> staged(expected.size());  // nothing is touched until every entry checked out
  std::vector<bool> seen(expected.size(), false);
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto name_length = r.get<std::uint32_t>("an entry name length");
    std::string name(name_length, '\0');
    r.bytes(name.data(), name_length, "an entry name");
    const auto rows = r.get<std::int64_t>("an entry shape");
    const auto cols = r.get<std::int64_t>("an entry shape");
    std::size_t slot = expected.size();
    for (std::size_t e = 0; e < expected.size(); ++e)
      if (expected[e].name == name) slot = e;
    if (slot == expected.size())
      throw std::runtime_error(where(path) + "entry '" + name + "' does not match anything in the module" +
                               (optimizer ? " or optimiser" : " (was it saved with optimiser state?)"));
    const Tensor<double>& target = *expected[slot].tensor;
    if (rows != target.rows() || cols != target.cols())
      throw std::runtime_error(where(path) + "entry '" + name + "' is " + std::to_string(rows) + "x" +
                               std::to_string(cols) + " but the module's is " +
                               std::to_string(target.rows()) + "x" + std::to_string(target.cols()));
    if (seen[slot]) throw std::runtime_error(where(path) + "entry '" + name + "' appears twice");
    seen[slot] = true;
    staged[slot] = Tensor<double>(rows, cols);
    r.bytes(staged[slot].data(), std::size_t(rows * cols) * sizeof(double), "an entry's values");
  }
  if (r.position() != body) throw std::runtime_error(where(path) + "unexpected bytes after the last entry");
  for (std::size_t e = 0; e < expected.size(); ++e)
    if (!seen[e]) throw std::runtime_error(where(path) + "missing entry '" + expected[e].name + "'");
  // Commit.
  for (std::size_t e = 0; e < expected.size(); ++e) *expected[e].tensor = std::move(staged[e]);
  if (optimizer != nullptr) optimizer->set_steps_taken((long long)(steps(0, 0)));
}

}  // namespace tapelab::nn
