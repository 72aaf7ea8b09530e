// Nearest-rank percentiles for `kiln bench` (tools/kiln/bench_stats.cpp), against cases worked
// out by hand and against the definition evaluated in integer arithmetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tools/kiln/bench_stats.h"

namespace kiln::cli {
namespace {

TEST(BenchStats, SingleSampleIsEveryStatistic) {
  const LatencySummary s = summarize_latencies({4.5});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.min, 4.5);
  EXPECT_EQ(s.median, 4.5);
  EXPECT_EQ(s.p90, 4.5);
  EXPECT_EQ(s.p99, 4.5);
  EXPECT_EQ(s.max, 4.5);
  EXPECT_EQ(s.mean, 4.5);
}

TEST(BenchStats, EmptyIsAllZero) {
  const LatencySummary s = summarize_latencies({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.min, 0);
  EXPECT_EQ(s.max, 0);
  EXPECT_EQ(s.mean, 0);
}

// 1..10 given out of order: median rank ceil(5) = 5, p90 rank ceil(9) = 9, p99 rank ceil(9.9) = 10.
TEST(BenchStats, TenSamplesOutOfOrder) {
  const LatencySummary s = summarize_latencies({7, 3, 10, 1, 9, 2, 8, 5, 4, 6});
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.median, 5);
  EXPECT_EQ(s.p90, 9);
  EXPECT_EQ(s.p99, 10);
  EXPECT_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
}

// Four samples: p25 rank 1, p50 rank 2 (the lower middle, no averaging), p75 rank 3,
// p90 rank ceil(3.6) = 4, p99 rank ceil(3.96) = 4.
TEST(BenchStats, FourSamples) {
  const std::vector<double> v = {10, 20, 30, 40};
  EXPECT_EQ(nearest_rank_percentile(v, 25), 10);
  EXPECT_EQ(nearest_rank_percentile(v, 26), 20);
  EXPECT_EQ(nearest_rank_percentile(v, 50), 20);
  EXPECT_EQ(nearest_rank_percentile(v, 75), 30);
  EXPECT_EQ(nearest_rank_percentile(v, 90), 40);
  EXPECT_EQ(nearest_rank_percentile(v, 99), 40);
  EXPECT_EQ(nearest_rank_percentile(v, 100), 40);
  EXPECT_EQ(nearest_rank_percentile(v, 0), 10);
  const LatencySummary s = summarize_latencies(v);
  EXPECT_EQ(s.median, 20);
  EXPECT_DOUBLE_EQ(s.mean, 25);
}

// 100 samples 1..100: the p-th percentile is p itself.
TEST(BenchStats, HundredSamplesGiveTheRankItself) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  for (int p = 1; p <= 100; ++p) EXPECT_EQ(nearest_rank_percentile(v, p), p) << "p" << p;
  EXPECT_EQ(nearest_rank_percentile(v, 99.5), 100);
  EXPECT_EQ(nearest_rank_percentile(v, 98.1), 99);
}

// Twenty samples: p90 rank exactly 18, p99 rank ceil(19.8) = 20, median rank 10.
TEST(BenchStats, TwentySamples) {
  std::vector<double> v;
  for (int i = 0; i < 20; ++i) v.push_back(0.5 * (20 - i));  // 10, 9.5, ..., 0.5
  const LatencySummary s = summarize_latencies(v);
  EXPECT_EQ(s.min, 0.5);
  EXPECT_EQ(s.median, 5.0);
  EXPECT_EQ(s.p90, 9.0);
  EXPECT_EQ(s.p99, 10.0);
  EXPECT_EQ(s.max, 10.0);
}

// Fractional p: 64.4% of 250 is exactly rank 161, though 64.4 * 250 / 100 in floating point is
// 161.00000000000003 and a plain ceil would give rank 162. 8.8% of 375 is rank 33 (33.00000000000001).
TEST(BenchStats, FractionalPercentOnAnExactRank) {
  std::vector<double> v;
  for (int i = 1; i <= 375; ++i) v.push_back(i);
  EXPECT_EQ(nearest_rank_percentile(v, 8.8), 33);
  v.resize(250);
  EXPECT_EQ(nearest_rank_percentile(v, 64.4), 161);
  EXPECT_EQ(nearest_rank_percentile(v, 64.5), 162);  // 161.25 rounds up
}

// The definition: the smallest sample such that at least p% of the samples are <= it, i.e. the
// smallest 1-based rank r with 100 * r >= p * n, checked in integers over many sizes.
TEST(BenchStats, MatchesTheDefinitionInIntegers) {
  std::mt19937 rng(7);
  for (int n = 1; n <= 60; ++n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = std::uniform_real_distribution<double>(0, 100)(rng);
    std::sort(v.begin(), v.end());
    for (int p = 1; p <= 100; ++p) {
      int r = 1;
      while (100 * r < p * n) ++r;
      EXPECT_EQ(nearest_rank_percentile(v, p), v[static_cast<size_t>(r - 1)]) << "n=" << n << " p=" << p;
    }
  }
}

}  // namespace
}  // namespace kiln::cli
