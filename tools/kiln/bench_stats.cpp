#include "bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln::cli {

double nearest_rank_percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  // p * n / 100 is exact for whole p, but a fractional p can land a hair above an integer
  // (64.4 * 250 / 100 is 161.00000000000003), and ceil would then skip a rank: round to 1e-9 first.
  const double exact = p * static_cast<double>(n) / 100.0;
  const double rank = std::ceil(std::round(exact * 1e9) / 1e9);
  const size_t r = rank < 1 ? 1 : std::min(n, static_cast<size_t>(rank));
  return sorted[r - 1];
}

LatencySummary summarize_latencies(std::vector<double> samples) {
  LatencySummary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.median = nearest_rank_percentile(samples, 50);
  s.p90 = nearest_rank_percentile(samples, 90);
  s.p99 = nearest_rank_percentile(samples, 99);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

}  // namespace kiln::cli
