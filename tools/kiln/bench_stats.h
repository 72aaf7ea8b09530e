// Latency statistics for `kiln bench`: nearest-rank percentiles over measured run times.
#pragma once

#include <cstddef>
#include <vector>

namespace kiln::cli {

// The p-th percentile (0 < p <= 100) of `sorted` (ascending, non-empty) by the nearest-rank
// method: the value at 1-based rank ceil(p / 100 * N). No interpolation, so every figure is a
// time that was actually measured. p <= 0 gives the smallest value.
double nearest_rank_percentile(const std::vector<double>& sorted, double p);

struct LatencySummary {
  size_t count = 0;
  double min = 0, median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// min, nearest-rank median (p50: the lower middle value for an even count), p90, p99, max and
// the arithmetic mean of `samples` (any order). All zero when `samples` is empty.
LatencySummary summarize_latencies(std::vector<double> samples);

}  // namespace kiln::cli
