// The activation memory planner: buffers live at the same time never overlap, buffers that are
// not live together share memory, every offset is aligned.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "runtime/memory_plan.h"

namespace kiln {
namespace {

size_t aligned(size_t b) { return (b + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Every invariant of a plan; "" if it holds.
std::string check_plan(const std::vector<BufferRequest>& req, const MemoryPlan& p) {
  if (p.offsets.size() != req.size()) return "wrong number of offsets";
  size_t total = 0;
  for (size_t i = 0; i < req.size(); ++i) {
    if (p.offsets[i] % kArenaAlignment) return "offset " + std::to_string(i) + " is misaligned";
    if (p.offsets[i] + req[i].bytes > p.arena_bytes) return "buffer " + std::to_string(i) + " runs past the arena";
    total += aligned(req[i].bytes);
    for (size_t j = i + 1; j < req.size(); ++j) {
      const bool live_together = req[i].first_step <= req[j].last_step && req[j].first_step <= req[i].last_step;
      const bool overlap = p.offsets[i] < p.offsets[j] + req[j].bytes && p.offsets[j] < p.offsets[i] + req[i].bytes;
      if (live_together && overlap && req[i].bytes && req[j].bytes) {
        return "buffers " + std::to_string(i) + " and " + std::to_string(j) + " are live together and overlap";
      }
    }
  }
  if (p.arena_bytes > total) return "arena is larger than no reuse at all";
  return "";
}

TEST(MemoryPlan, RandomIntervalSetsNeverOverlap) {
  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 500; ++trial) {
    const size_t n = 1 + rng() % 60;
    std::vector<BufferRequest> req;
    for (size_t i = 0; i < n; ++i) {
      BufferRequest r;
      r.bytes = 1 + rng() % (trial % 2 ? 5000 : 130);  // small sizes stress alignment rounding
      r.first_step = rng() % 40;
      r.last_step = r.first_step + rng() % 10;
      req.push_back(r);
    }
    const MemoryPlan p = plan_memory(req);
    ASSERT_EQ(check_plan(req, p), "") << "trial " << trial;
  }
}

TEST(MemoryPlan, CheckerCatchesOverlap) {
  // The checker above must be able to fail, or the randomized test proves nothing.
  std::vector<BufferRequest> req = {{100, 0, 2}, {100, 1, 3}};
  MemoryPlan bad;
  bad.offsets = {0, 64};
  bad.arena_bytes = 192;
  EXPECT_NE(check_plan(req, bad), "");
  bad.offsets = {0, 128};
  bad.arena_bytes = 256;
  EXPECT_EQ(check_plan(req, bad), "");
}

TEST(MemoryPlan, SequentialChainReusesTwoSlots) {
  // x0 -> x1 -> ... -> x9: each buffer is written at step i and read at step i+1.
  std::vector<BufferRequest> req;
  for (size_t i = 0; i < 10; ++i) req.push_back({1000, i, i + 1});
  const MemoryPlan p = plan_memory(req);
  ASSERT_EQ(check_plan(req, p), "");
  EXPECT_LE(std::set<size_t>(p.offsets.begin(), p.offsets.end()).size(), 2u);
  EXPECT_LE(p.arena_bytes, 2 * aligned(1000));
}

TEST(MemoryPlan, DisjointLifetimesShareOneSlot) {
  std::vector<BufferRequest> req = {{256, 0, 0}, {256, 1, 1}, {128, 2, 2}};
  const MemoryPlan p = plan_memory(req);
  EXPECT_EQ(p.arena_bytes, 256u);
  EXPECT_EQ(p.offsets, (std::vector<size_t>{0, 0, 0}));
}

TEST(MemoryPlan, Alignment) {
  std::vector<BufferRequest> req = {{1, 0, 1}, {65, 0, 1}, {64, 0, 1}};
  const MemoryPlan p = plan_memory(req);
  ASSERT_EQ(check_plan(req, p), "");
  for (size_t o : p.offsets) EXPECT_EQ(o % 64, 0u);
  EXPECT_EQ(p.arena_bytes, 64u + 128u + 64u);
  EXPECT_EQ(plan_memory({}).arena_bytes, 0u);
}

}  // namespace
}  // namespace kiln
