#pragma once
// Arena: a bump allocator of 64-byte aligned blocks. `rewind()` forgets every allocation but keeps the
// blocks, so a program that allocates the same sequence of sizes after each rewind (a training step) touches
// the heap only during its first pass.
//
// Blocks form a chain. An allocation that does not fit the rest of the current block moves on to the next
// block of the chain, or appends a new block of max(request, total capacity so far) bytes (so the chain has
// O(log) blocks). Determinism: after a rewind, the same sequence of requests takes the same path through the
// chain, hence needs no new block.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace tapelab {

class Arena {
 public:
  static constexpr std::size_t kAlignment = 64;

  explicit Arena(std::size_t first_block_bytes = std::size_t(1) << 20)
      : first_block_bytes_(first_block_bytes) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (Block& b : blocks_) ::operator delete (b.data, std::align_val_t{kAlignment});
  }

  // `bytes` bytes, 64-byte aligned, uninitialised; valid until the next rewind().
  void* allocate(std::size_t bytes) {
    bytes = round_up(bytes == 0 ? 1 : bytes);
    while (current_ < blocks_.size()) {
      Block& b = blocks_[current_];
      if (b.size - b.used >= bytes) {
        void* p = b.data + b.used;
        b.used += bytes;
        in_use_ += bytes;
        if (in_use_ > high_water_) high_water_ = in_use_;
        return p;
      }
      ++current_;
      if (current_ < blocks_.size()) blocks_[current_].used = 0;
    }
    const std::size_t size = bytes > capacity_ ? (bytes > first_block_bytes_ ? bytes : first_block_bytes_)
                                               : capacity_;  // doubles the total capacity
    Block b{static_cast<std::byte*>(::operator new (size, std::align_val_t{kAlignment})), size, 0};
    blocks_.push_back(b);
    capacity_ += size;
    ++heap_allocations_;
    current_ = blocks_.size() - 1;
    return allocate(bytes);
  }

  template <class T>
  T* allocate_array(std::size_t n) {
    return static_cast<T*>(allocate(n * sizeof(T)));
  }

  // Forgets every allocation; keeps the blocks.
  void rewind() {
    current_ = 0;
    in_use_ = 0;
    if (!blocks_.empty()) blocks_[0].used = 0;
  }

  // Statistics: bytes handed out since the last rewind (rounded up to 64), the most ever, bytes reserved from
  // the heap, and how many times the heap was asked (the no-allocation test watches this).
  std::size_t bytes_in_use() const { return in_use_; }
  std::size_t high_water_bytes() const { return high_water_; }
  std::size_t capacity_bytes() const { return capacity_; }
  std::size_t heap_allocations() const { return heap_allocations_; }

 private:
  struct Block {
    std::byte* data;
    std::size_t size;
    std::size_t used;
  };
  static std::size_t round_up(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

  // No transparent huge pages, on purpose. Blocks offered to them (madvise MADV_HUGEPAGE) made a P4 step 3%
  // faster in a process that did nothing else, but on the 2-vCPU Zen 5 machines here `tapelab run all` then spent
  // 495 s in X6 (which runs after X2 in the same process), against 207 s without the hint (and 192 s with it when
  // X6 ran on its own), and the median d = 64 training step went from about 200 ms to 235 ms.
  std::vector<Block> blocks_;
  std::size_t current_ = 0;
  std::size_t first_block_bytes_;
  std::size_t capacity_ = 0;
  std::size_t in_use_ = 0;
  std::size_t high_water_ = 0;
  std::size_t heap_allocations_ = 0;
};

}  // namespace tapelab
