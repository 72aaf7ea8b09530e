// One Engine shared by 8 ExecutionContexts on 8 threads, each running 50 times with its own
// inputs (and batch sizes, so contexts re-plan while others run); every result must equal a
// single-threaded run bit for bit. Its own executable (kiln_concurrency_test) so that it can be
// built alone under ThreadSanitizer (-DKILN_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

constexpr int kThreads = 8;
constexpr int kRuns = 50;

Tensor input_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  std::vector<float> v;
  for (int64_t i = 0; i < batch * 4; ++i) v.push_back(static_cast<float>((thread * 131 + run * 17 + i * 7) % 23) / 7.0f - 1.5f);
  return test::f32({batch, 4}, v);
}

TEST(Concurrency, EightContextsMatchSingleThreaded) {
  auto engine = Builder(test::quiet_config()).build_from_bytes(test::mlp_model(true).SerializeAsString(), "mlp.onnx");
  ASSERT_TRUE(engine.ok()) << engine.status().message();

  // The expected results, one context, one thread.
  std::vector<std::vector<Tensor>> want(kThreads, std::vector<Tensor>(kRuns));
  {
    auto ctx = engine->create_execution_context();
    ASSERT_TRUE(ctx.ok());
    for (int t = 0; t < kThreads; ++t) {
      for (int r = 0; r < kRuns; ++r) {
        NamedTensors out;
        ASSERT_TRUE((*ctx)->run({{"x", input_for(t, r)}}, &out).ok());
        want[t][r] = out.at("y");
      }
    }
  }
  // Distinct inputs must give distinct outputs somewhere, or equality below proves little.
  ASSERT_FALSE(test::same_bits(want[0][0], want[4][0]));

  std::vector<std::unique_ptr<ExecutionContext>> contexts;
  for (int t = 0; t < kThreads; ++t) {
    auto ctx = engine->create_execution_context();
    ASSERT_TRUE(ctx.ok());
    contexts.push_back(std::move(*ctx));
  }
  std::atomic<int> mismatches{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();  // start together to maximize overlap
      NamedTensors out;  // reused: bound outputs are written in place when the shape repeats
      for (int r = 0; r < kRuns; ++r) {
        if (!contexts[t]->run({{"x", input_for(t, r)}}, &out).ok()) {
          ++errors;
          continue;
        }
        if (!test::same_bits(out.at("y"), want[t][r])) ++mismatches;
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace kiln
