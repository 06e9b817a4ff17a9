#pragma once
// Checkpoints: every parameter of a module and, optionally, an optimiser's state, in a versioned binary file.
//
// Format, version 1 (little-endian):
//   magic      8 bytes  'T','L','C','K','P','T','\r','\n' (the CR LF catches text-mode mangling)
//   version    u32      1
//   scalar     u32      8 = double (the only type written)
//   count      u64      number of entries
//   entries    count x { name_length u32, name bytes, rows i64, cols i64, rows*cols scalars }
//              names: "param/<parameter name>", "optim/<state name>", "optim/steps" (1x1)
//   checksum   u64      FNV-1a 64 of every byte before it
// Saving writes "<path>.tmp", flushes and fsyncs it, then renames it onto <path>: a crash leaves the old file
// or the new one, never a mix. Loading reads and checks the whole file (size, magic, version, scalar type,
// checksum, that every entry the module/optimiser expects is there with the same shape and nothing else is)
// before it changes anything: a refused file leaves the module and optimiser as they were.
#include <cstdint>
#include <string>

#include "nn/module.hpp"
#include "nn/optim.hpp"

namespace tapelab::nn {

inline constexpr std::uint32_t kCheckpointVersion = 1;

void save_checkpoint(const std::string& path, Module& module, Optimizer* optimizer = nullptr);
// Throws std::runtime_error naming the file and the problem; on error nothing is modified.
void load_checkpoint(const std::string& path, Module& module, Optimizer* optimizer = nullptr);

}  // namespace tapelab::nn
