// Activation memory planning: given each intermediate's size and the span of steps over which it
// is live, place it at an offset of one arena so that values live at the same time never overlap.
// Greedy by size (largest first, lowest offset that fits), which is within a few percent of
// optimal on CNNs and transformers and runs in O(n^2) on a few thousand values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

struct BufferRequest {
  size_t bytes = 0;
  size_t first_step = 0;  // the step that writes it
  size_t last_step = 0;   // the last step that reads it
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per request
  size_t arena_bytes = 0;
};

constexpr size_t kArenaAlignment = 64;

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace kiln
