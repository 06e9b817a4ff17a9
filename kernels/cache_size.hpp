#pragma once
// The size of the CPU's last-level cache, for memory policies that keep data only while it would still be
// cached (nn::ResidualNetworkConfig::keep_last_bytes). Read from Linux's sysfs
// (/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}) rather than sysconf(_SC_LEVEL3_CACHE_SIZE):
// in the 2-vCPU VMs here glibc reports 320 MB, the host's L3 over all its core complexes, where sysfs (and
// lscpu) give the 32 MB one that the guest's cores share.
#include <cstddef>
#include <string_view>

namespace tapelab::kernels {

// The largest data or unified cache level's size in bytes, for CPU 0; 0 where sysfs does not say.
std::size_t last_level_cache_bytes();

namespace detail {
// sysfs's size text ("32768K", "1M", "512"; a trailing newline allowed) in bytes; 0 if it is not one.
std::size_t parse_cache_size(std::string_view text);
}  // namespace detail

}  // namespace tapelab::kernels
