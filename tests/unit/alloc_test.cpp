// Zero allocation: after one warm-up run at a shape, ExecutionContext::run with its outputs bound
// performs no heap allocation at all. Its own executable (kiln_alloc_test): it replaces the global
// operator new/delete and interposes malloc and friends for the whole process.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>

#include "unit/test_util.h"

namespace {
// Counting is off except inside a measured region, so gtest's own allocations do not count.
std::atomic<bool> g_counting{false};
std::atomic<long> g_news{0};
std::atomic<long> g_mallocs{0};
}  // namespace

#ifndef KILN_UNDER_SANITIZER
// glibc's real allocator entry points: the interposed malloc family below forwards to them.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t s) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_calloc(n, s);
}
void* realloc(void* p, size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t a, size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_memalign(a, n);
}
void* memalign(size_t a, size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_mallocs;
  void* p = __libc_memalign(a, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) noexcept { __libc_free(p); }
}

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_news;
  if (void* p = __libc_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, std::align_val_t a) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_news;
  const size_t al = static_cast<size_t>(a);
  if (void* p = __libc_memalign(al, n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) ++g_news;
  return __libc_malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
#endif

namespace kiln {
namespace {

struct Counts {
  long news, mallocs;
};

template <typename Fn>
Counts count_allocations(Fn&& fn) {
  g_news = 0;
  g_mallocs = 0;
  g_counting = true;
  fn();
  g_counting = false;
  return {g_news.load(), g_mallocs.load()};
}

void skip_under_sanitizers() {
#ifdef KILN_UNDER_SANITIZER
  GTEST_SKIP() << "allocation counting is off in sanitizer builds: the sanitizer owns malloc and operator new";
#endif
}

// The counters must see allocations, or "zero" proves nothing.
TEST(Alloc, CountersSeeAllocations) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  // Through a volatile sink, so the compiler cannot elide the allocation pairs.
  static void* volatile sink = nullptr;
  Counts c = count_allocations([] {
    auto* v = new std::vector<int>(100);
    sink = v;
    delete v;
  });
  EXPECT_GE(c.news, 2);
  c = count_allocations([] {
    auto t = Tensor::allocate(DataType::kFloat32, {16});  // std::aligned_alloc
    EXPECT_TRUE(t.ok());
  });
  EXPECT_GE(c.mallocs, 1);
  c = count_allocations([] {
    sink = std::malloc(10);
    std::free(sink);
  });
  EXPECT_EQ(c.mallocs, 1);
}

// x -> Relu -> Relu -> Sigmoid, built as a Graph in code. Only kernels that allocate nothing
// themselves: the binary kernels' broadcast planning (plan_broadcast) allocates per call today,
// and so does the reference FusedPointwise that --opt-level 2 would turn this chain into; the
// test is about the runtime, so it builds at --opt-level 1 (three separate layers).
Engine chain_engine(const SymShape& shape, const std::vector<std::vector<InputRange>>& profiles = {}) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, shape);
  Value* a = g->add_value("a");
  Value* c = g->add_value("c");
  Value* y = g->add_value("y");
  test::op(*g, "Relu", {x}, {a}, "relu1");
  test::op(*g, "Relu", {a}, {c}, "relu2");
  test::op(*g, "Sigmoid", {c}, {y}, "sig");
  g->add_output(y);
  BuilderConfig config = test::quiet_config();
  config.opt_level = 1;
  config.profiles = profiles;
  auto e = test::build(std::move(g), config);
  if (!e.ok()) {
    ADD_FAILURE() << e.status().message();
    std::abort();
  }
  return *e;
}

void expect_zero_alloc_runs(const Engine& e, const Dims& dims) {
  auto ctx = e.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<float> vals;
  for (int64_t i = 0; i < element_count(dims); ++i) vals.push_back(static_cast<float>(i % 11) - 5.0f);
  NamedTensors in{{"x", test::f32(dims, vals)}};
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run(in, &out).ok());  // warm-up: plans, allocates the arena and the output
  const Tensor first = *out.at("y").clone();
  const void* bound = out.at("y").data();
  Status s;
  const Counts c = count_allocations([&] {
    for (int i = 0; i < 3; ++i) s = (*ctx)->run(in, &out);
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.news, 0) << "operator new calls in ExecutionContext::run at " << dims_to_string(dims);
  EXPECT_EQ(c.mallocs, 0) << "malloc calls in ExecutionContext::run at " << dims_to_string(dims);
  EXPECT_EQ(out.at("y").data(), bound) << "the bound output must be written in place";
  EXPECT_TRUE(test::same_bits(out.at("y"), first));
  // Sigmoid(Relu(Relu(x))): x = -5 gives 0.5, x = 3 gives sigmoid(3).
  EXPECT_EQ(out.at("y").data_as<float>()[0], 0.5f);
  EXPECT_NEAR(out.at("y").data_as<float>()[8], 1 / (1 + std::exp(-3.0f)), 1e-6);
}

TEST(Alloc, BoundRunAllocatesNothingFixedShape) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  expect_zero_alloc_runs(chain_engine(sym_shape({8, 16})), {8, 16});
}

TEST(Alloc, BoundRunAllocatesNothingSymbolicShape) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  const Engine e = chain_engine(SymShape{Dim::sym("batch"), Dim::known(16)});
  expect_zero_alloc_runs(e, {3, 16});
  expect_zero_alloc_runs(e, {32, 16});
}

// Checking the shapes against several profiles allocates nothing when one fits, even when it is
// not the first.
TEST(Alloc, BoundRunAllocatesNothingSeveralProfiles) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  const Engine e = chain_engine(SymShape{Dim::sym("batch"), Dim::known(16)},
                                {{{"x", {1, 16}, {2, 16}, {4, 16}}}, {{"x", {16, 16}, {24, 16}, {32, 16}}}});
  expect_zero_alloc_runs(e, {3, 16});
  expect_zero_alloc_runs(e, {32, 16});
}

// kiln's own cpu kernels (norms and data movement) keep the runtime allocation-free: their
// shapes, sizes and scratch live in per-thread buffers that only grow, and their parallel_for
// lambdas capture one reference (kept inline by std::function). 256 KiB tensors, so the
// kernels run their parallel paths.
TEST(Alloc, BoundRunAllocatesNothingCpuKernels) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  auto g = test::new_graph();
  g->opset_imports["kiln"] = 1;
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({16, 32, 128}));
  Value* ids = test::input(*g, "ids", DataType::kInt64, sym_shape({2, 9}));
  std::vector<Value*> v;
  for (const char* name : {"ln", "tr", "a", "b", "cat", "sl", "y", "e"}) v.push_back(g->add_value(name));
  const Tensor w = test::f32({128}, {0.5f, 1.5f, -1.0f});
  test::op(*g, "LayerNormalization", {x, g->add_constant("scale", w), g->add_constant("bias", w)}, {v[0]});
  test::op(*g, "Transpose", {v[0]}, {v[1]})->attrs.set_ints("perm", {2, 0, 1});
  test::op(*g, "Split", {v[1], g->add_constant("split", test::i64({2}, {48, 80}))}, {v[2], v[3]})->attrs.set_int("axis", 0);
  test::op(*g, "Concat", {v[3], v[2]}, {v[4]})->attrs.set_int("axis", 0);
  test::op(*g, "Slice",
           {v[4], g->add_constant("starts", test::i64({1}, {1})), g->add_constant("ends", test::i64({1}, {32})),
            g->add_constant("axes", test::i64({1}, {-1})), g->add_constant("steps", test::i64({1}, {3}))},
           {v[5]});
  Node* rms = g->add_node("RMSNormalization", {v[5], g->add_constant("rms_scale", test::f32({11}, {1.0f}))}, {v[6]}, "rms", "kiln");
  rms->opset = 1;
  rms->schema = OpRegistry::global().find("kiln", "RMSNormalization", 1);
  test::op(*g, "Gather", {x, ids}, {v[7]});
  g->add_output(v[6]);
  g->add_output(v[7]);
  BuilderConfig config = test::quiet_config();
  config.backend = "cpu";
  config.opt_level = 1;
  auto e = test::build(std::move(g), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  for (const LayerInfo& l : e->info().layers) EXPECT_EQ(l.backend, "cpu") << l.name << " ran " << l.kernel;
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<float> xv;
  for (int i = 0; i < 16 * 32 * 128; ++i) xv.push_back(static_cast<float>(i % 13) - 6.0f);
  NamedTensors in{{"x", test::f32({16, 32, 128}, xv)}, {"ids", test::i64({2, 9}, {0, 7, -1, 3, -8, 2})}};
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run(in, &out).ok());
  Status s;
  const Counts c = count_allocations([&] {
    for (int i = 0; i < 3; ++i) s = (*ctx)->run(in, &out);
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.news, 0) << "operator new calls in a run of the cpu kernels";
  EXPECT_EQ(c.mallocs, 0) << "malloc calls in a run of the cpu kernels";
}

// The cpu backend's own elementwise and reduction kernels, at a size that runs them on several
// threads: x * scale + bias -> Sigmoid -> * x (one FusedPointwise at --opt-level 2), a per-channel
// broadcast Add of its GlobalAveragePool, Relu, and ReduceMean over rows and over channels.
// After the warm-up run, running allocates nothing either (not the kernels, not the thread pool).
TEST(Alloc, CpuPointwiseKernelsAllocateNothing) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  auto g = test::new_graph(18);
  Value* x = test::input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(32), Dim::known(64), Dim::known(64)});
  std::vector<float> per_channel(32);
  for (size_t i = 0; i < per_channel.size(); ++i) per_channel[i] = static_cast<float>(i) / 32.0f - 0.5f;
  Value* scale = g->add_constant("scale", test::f32({32, 1, 1}, per_channel));
  Value* bias = g->add_constant("bias", test::f32({32, 1, 1}, per_channel));
  Value* rows = g->add_constant("rows", test::i64({2}, {2, 3}));
  Value* channels = g->add_constant("channels", test::i64({1}, {1}));
  auto v = [&](const char* name) { return g->add_value(name); };
  Value *a = v("a"), *b = v("b"), *c = v("c"), *d = v("d"), *p = v("p"), *q = v("q");
  Value *y = v("y"), *m = v("m"), *k = v("k");
  test::op(*g, "Mul", {x, scale}, {a}, "mul");
  test::op(*g, "Add", {a, bias}, {b}, "add");
  test::op(*g, "Sigmoid", {b}, {c}, "sig");
  test::op(*g, "Mul", {c, x}, {d}, "mul_x");
  test::op(*g, "GlobalAveragePool", {d}, {p}, "gap");
  test::op(*g, "Add", {d, p}, {q}, "add_gap");
  test::op(*g, "Relu", {q}, {y}, "relu");
  test::op(*g, "ReduceMean", {d, rows}, {m}, "mean_rows");
  test::op(*g, "ReduceMean", {d, channels}, {k}, "mean_channels");
  for (Value* o : {y, m, k}) g->add_output(o);
  BuilderConfig config = test::quiet_config();
  config.backend = "cpu";
  config.opt_level = 2;
  auto e = test::build(std::move(g), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  bool fused = false;
  for (const LayerInfo& l : e->info().layers) {
    EXPECT_EQ(l.backend, "cpu") << l.name << " runs " << l.kernel;
    fused = fused || l.op == "kiln.FusedPointwise";
  }
  EXPECT_TRUE(fused) << "the Mul/Add/Sigmoid/Mul chain should be one FusedPointwise";

  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<float> vals(2 * 32 * 64 * 64);
  for (size_t i = 0; i < vals.size(); ++i) vals[i] = static_cast<float>(i % 23) / 11.0f - 1.0f;
  NamedTensors in{{"x", test::f32({2, 32, 64, 64}, vals)}};
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run(in, &out).ok());  // warm-up
  ASSERT_TRUE((*ctx)->run(in, &out).ok());  // the thread pool's team is reused from here on
  const Tensor first = *out.at("y").clone();
  Status s;
  const Counts counts = count_allocations([&] {
    for (int i = 0; i < 3; ++i) s = (*ctx)->run(in, &out);
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(counts.news, 0) << "operator new calls in the cpu kernels' runs";
  EXPECT_EQ(counts.mallocs, 0) << "malloc calls in the cpu kernels' runs";
  EXPECT_TRUE(test::same_bits(out.at("y"), first));
}


// The cpu backend's own kernels (not oneDNN): kiln.Attention, then Softmax along the last axis
// and LogSoftmax along a middle one, at sizes that split over threads. Their scratch is
// thread-local and only grows, so after the warm-up nothing is allocated.
TEST(Alloc, CpuAttentionAndSoftmaxAllocateNothing) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  auto g = test::new_graph();
  g->opset_imports["kiln"] = 1;
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2, 64, 256}));
  Value* a = g->add_value("a");
  Value* s = g->add_value("s");
  Value* y = g->add_value("y");
  Node* attn = g->add_node("Attention", {x, x, x}, {a}, "attn", "kiln");
  attn->opset = 1;
  attn->fused_from = {"attn"};
  attn->schema = OpRegistry::global().find("kiln", "Attention", 1);
  attn->attrs.set_int("num_heads", 4);
  test::op(*g, "Softmax", {a}, {s}, "softmax");
  test::op(*g, "LogSoftmax", {s}, {y}, "log_softmax")->attrs.set_int("axis", 1);
  g->add_output(y);
  BuilderConfig config = test::quiet_config();
  config.backend = "cpu";
  config.opt_level = 1;
  auto e = test::build(std::move(g), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  for (const LayerInfo& l : e->info().layers) EXPECT_EQ(l.backend, "cpu") << l.op << " ran " << l.kernel;
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<float> vals;
  for (int i = 0; i < 97; ++i) vals.push_back(static_cast<float>(i % 13) / 6.0f - 1.0f);
  NamedTensors in{{"x", test::f32({2, 64, 256}, vals)}};
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run(in, &out).ok());
  const Tensor first = *out.at("y").clone();
  Status st;
  const Counts c = count_allocations([&] {
    for (int i = 0; i < 3; ++i) st = (*ctx)->run(in, &out);
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.news, 0);
  EXPECT_EQ(c.mallocs, 0);
  EXPECT_TRUE(test::same_bits(out.at("y"), first));
}

}  // namespace
// A oneDNN layer's run allocates exactly what oneDNN's own execute call does (it builds its
// argument map on the heap): kiln's wrapper around it (shape-signature lookup, memory objects,
// argument list, scratchpad) adds nothing. The bare call below executes the same convolution
// (same shapes, weights in the layout oneDNN picks, user scratchpad, 4 arguments).
TEST(Alloc, OneDnnLayerAllocatesOnlyWhatOneDnnExecuteDoes) {
  skip_under_sanitizers();
  if (::testing::Test::IsSkipped()) return;
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2, 8, 10, 10}));
  Value* y = g->add_value("y");
  g->add_output(y);
  test::op(*g, "Conv", {x, g->add_constant("w", test::f32({16, 8, 3, 3}, {0.5f, -0.25f, 1.0f}))}, {y}, "conv")
      ->attrs.set_ints("pads", {1, 1, 1, 1});
  BuilderConfig config = test::quiet_config();
  config.backend = "cpu";
  auto e = test::build(std::move(g), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_EQ(e->info().layers.at(0).kernel, "dnnl_conv");
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors in{{"x", test::f32({2, 8, 10, 10}, {1.0f, 2.0f, -1.0f})}};
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run(in, &out).ok());
  Status s;
  const Counts run = count_allocations([&] { s = (*ctx)->run(in, &out); });
  ASSERT_TRUE(s.ok()) << s.message();

  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream st(eng);
  const memory::desc sd({2, 8, 10, 10}, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc wd({16, 8, 3, 3}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc dd({2, 16, 10, 10}, memory::data_type::f32, memory::format_tag::nchw);
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  const convolution_forward::primitive_desc pd(
      convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, sd, wd, dd, {1, 1}, {1, 1}, {1, 1}), attr, eng);
  const convolution_forward conv(pd);
  memory sm(sd, eng), wm(pd.weights_desc(), eng), dm(dd, eng), pm(pd.scratchpad_desc(), eng);
  const std::vector<dnnl_exec_arg_t> args{{DNNL_ARG_SRC, sm.get()}, {DNNL_ARG_WEIGHTS, wm.get()}, {DNNL_ARG_DST, dm.get()},
                                          {DNNL_ARG_SCRATCHPAD, pm.get()}};
  auto execute = [&] {
    ASSERT_EQ(dnnl_primitive_execute(conv.get(), st.get(), static_cast<int>(args.size()), args.data()), dnnl_success);
    st.wait();
  };
  execute();
  const Counts bare = count_allocations(execute);
  EXPECT_EQ(run.news, bare.news) << "operator new calls beyond oneDNN's execute (" << bare.news << ")";
  EXPECT_EQ(run.mallocs, bare.mallocs) << "malloc calls beyond oneDNN's execute (" << bare.mallocs << ")";
}

}  // namespace kiln
