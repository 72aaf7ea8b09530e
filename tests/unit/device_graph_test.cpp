// The runtime's device paths: pinned staging of inputs and outputs, run_on_device (device-resident
// inputs and outputs), CUDA graph capture and replay, several contexts at once.
//
// Two halves. The first runs everywhere: engines whose device layers run on a fake Device that
// behaves like a GPU where it matters to the runtime. Its memory is host memory, but each block
// is registered as device or pinned host memory, and every fake kernel refuses a buffer in the
// wrong memory (a copy to the device whose source is not pinned, a device layer reading host
// memory). Its stream queues work and runs it only at synchronize (so a result read before the
// runtime waits is stale), and a capture records the queued work, with the pointers it was
// queued with, for replay (so a graph that reads the wrong input buffer gives wrong outputs).
// The second half runs the same checks on the cuda backend and skips with "skipped: no CUDA
// device" where there is none.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "backends/backend.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "runtime/engine_state.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

// --- the fake device -----------------------------------------------------------------------------

class FakeDevice final : public Device {
 public:
  using Work = std::vector<std::function<void()>>;
  struct Stream {
    Work queued;
    Work* capture = nullptr;  // while capturing: where queued work goes
  };

  Result<void*> allocate(size_t bytes) const override { return take(device_, bytes); }
  void free(void* p) const override { give(device_, p); }
  Result<void*> allocate_host(size_t bytes) const override { return take(pinned_, bytes); }
  void free_host(void* p) const override { give(pinned_, p); }
  bool is_device_memory(const void* p) const override { return inside(device_, p); }
  bool is_pinned(const void* p) const { return inside(pinned_, p); }

  Result<void*> create_stream() const override { return static_cast<void*>(new Stream); }
  void destroy_stream(void* s) const override { delete static_cast<Stream*>(s); }
  Status copy_to_device(void* dst, const void* src, size_t bytes, void* stream) const override {
    if (!is_device_memory(dst)) return internal_error("copy_to_device: the destination is not device memory");
    return copy(dst, src, bytes, stream, "copy_to_device: the source is not pinned host memory", !is_pinned(src));
  }
  Status copy_to_host(void* dst, const void* src, size_t bytes, void* stream) const override {
    if (!is_device_memory(src)) return internal_error("copy_to_host: the source is not device memory");
    return copy(dst, src, bytes, stream, "copy_to_host: the destination is not pinned host memory", !is_pinned(dst));
  }
  Status copy_on_device(void* dst, const void* src, size_t bytes, void* stream) const override {
    if (!is_device_memory(dst) || !is_device_memory(src)) return internal_error("copy_on_device: not device memory");
    return copy(dst, src, bytes, stream, "", false);
  }
  Status synchronize(void* stream) const override {
    if (!stream) return ok_status();
    auto* s = static_cast<Stream*>(stream);
    if (s->capture) return internal_error("synchronize while capturing");
    ++synchronizes;
    for (auto& f : s->queued) f();
    s->queued.clear();
    return ok_status();
  }
  Status begin_capture(void* stream) const override {
    auto* s = static_cast<Stream*>(stream);
    if (s->capture) return internal_error("already capturing");
    s->capture = new Work;
    ++captures;
    return ok_status();
  }
  Result<void*> end_capture(void* stream) const override {
    auto* s = static_cast<Stream*>(stream);
    Work* w = s->capture;
    s->capture = nullptr;
    if (!w) return internal_error("not capturing");
    return static_cast<void*>(w);
  }
  Status launch_graph(void* graph, void* stream) const override {
    ++launches;
    for (const auto& f : *static_cast<Work*>(graph)) push(stream, f);
    return ok_status();
  }
  void destroy_graph(void* graph) const override { delete static_cast<Work*>(graph); }

  // Events on the fake device's clock, which each queued piece of work advances by 1 ms when it
  // runs: a layer queuing one piece of work takes exactly 1 ms between its events. Turned off
  // (has_events = false), the device has none, as Device's defaults.
  Result<void*> create_event() const override {
    if (!has_events) return Device::create_event();
    ++live_events;
    return static_cast<void*>(new double(-1));
  }
  Status record_event(void* event, void* stream) const override {
    if (!has_events) return Device::record_event(event, stream);
    auto* at = static_cast<double*>(event);
    push(stream, [this, at] { *at = static_cast<double>(work_done.load()); });
    return ok_status();
  }
  Result<float> elapsed_ms(void* start, void* end) const override {
    const double a = *static_cast<double*>(start), b = *static_cast<double*>(end);
    if (a < 0 || b < 0) return internal_error("elapsed_ms: an event has not been reached");
    return static_cast<float>(b - a);
  }
  void destroy_event(void* event) const override {
    if (!event) return;
    --live_events;
    delete static_cast<double*>(event);
  }

  // Queues work on a stream (or records it while capturing); running it advances the clock.
  void enqueue(void* stream, std::function<void()> f) const {
    push(stream, [this, f = std::move(f)] {
      f();
      ++work_done;
    });
  }
  void push(void* stream, std::function<void()> f) const {
    auto* s = static_cast<Stream*>(stream);
    (s->capture ? *s->capture : s->queued).push_back(std::move(f));
  }
  bool capturing(void* stream) const { return static_cast<Stream*>(stream)->capture != nullptr; }

  mutable std::atomic<int> captures{0}, launches{0}, pageable_copies{0}, synchronizes{0}, live_events{0};
  mutable std::atomic<int64_t> work_done{0};
  bool has_events = true;

 private:
  using Blocks = std::map<uintptr_t, size_t>;
  Result<void*> take(Blocks& blocks, size_t bytes) const {
    void* p = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
    if (!p) return out_of_memory("fake device: out of memory");
    std::lock_guard<std::mutex> lock(mu_);
    blocks[reinterpret_cast<uintptr_t>(p)] = std::max<size_t>(bytes, 1);
    return p;
  }
  void give(Blocks& blocks, void* p) const {
    if (!p) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocks.erase(reinterpret_cast<uintptr_t>(p));
    }
    std::free(p);
  }
  bool inside(const Blocks& blocks, const void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto a = reinterpret_cast<uintptr_t>(p);
    auto it = blocks.upper_bound(a);
    if (it == blocks.begin()) return false;
    --it;
    return a < it->first + it->second;
  }
  Status copy(void* dst, const void* src, size_t bytes, void* stream, const char* pageable_error, bool pageable) const {
    // As with CUDA: a copy with pageable host memory cannot be captured (and is slow otherwise).
    if (pageable) {
      if (stream && capturing(stream)) return internal_error(pageable_error);
      ++pageable_copies;
    }
    if (!stream) {
      std::memcpy(dst, src, bytes);
      return ok_status();
    }
    enqueue(stream, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
    return ok_status();
  }

  mutable std::mutex mu_;
  mutable Blocks device_, pinned_;
};

FakeDevice& fake() {
  static FakeDevice d;
  return d;
}

// Device kernels of the fake device. Each checks where its buffers are and queues its work.
std::atomic<int> fake_uploads{0};  // kiln.CopyToDevice kernels run

class FakeCopyKernel final : public Kernel {
 public:
  explicit FakeCopyKernel(bool to_device) : to_device_(to_device) {}
  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    const void* host = to_device_ ? x->data() : y->data();
    const void* dev = to_device_ ? y->data() : x->data();
    if (!fake().is_pinned(host)) return ctx.error("the host side of the copy is not pinned memory");
    if (!fake().is_device_memory(dev)) return ctx.error("the device side of the copy is not device memory");
    if (to_device_) ++fake_uploads;
    void* dst = y->data();
    const void* src = x->data();
    const size_t n = x->nbytes();
    fake().enqueue(ctx.stream(), [dst, src, n] { std::memcpy(dst, src, n); });
    return ok_status();
  }

 private:
  bool to_device_;
};

// Relu, or Mul by a [C] constant broadcast over the rows, in device memory.
class FakeMathKernel final : public Kernel {
 public:
  explicit FakeMathKernel(bool mul) : mul_(mul) {}
  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* k = mul_ ? ctx.input(1) : nullptr;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    for (const Tensor* t : {x, k, static_cast<const Tensor*>(y)}) {
      if (t && !fake().is_device_memory(t->data())) return ctx.error("a buffer is not in device memory");
    }
    const float* xp = x->data_as<float>();
    const float* kp = k ? k->data_as<float>() : nullptr;
    const int64_t c = k ? k->numel() : 1;
    float* yp = y->data_as<float>();
    const int64_t n = x->numel();
    fake().enqueue(ctx.stream(), [xp, kp, c, yp, n] {
      for (int64_t i = 0; i < n; ++i) yp[i] = kp ? xp[i] * kp[i % c] : std::max(xp[i], 0.0f);
    });
    return ok_status();
  }

 private:
  bool mul_;
};

const std::vector<float> kScale = {0.5f, -2.0f, 3.0f, 1.25f};

// A graph as the builder leaves it for a device backend, with the copy layers in place:
//   x -> CopyToDevice -> Relu -> [CopyToHost -> Sin (host) -> CopyToDevice ->] Mul(k) -> CopyToHost -> y
//   x -> Neg (host) -> z
// With `host_in_middle`, the Sin between device layers makes the run uncapturable.
struct FakeEngine {
  Engine engine;
  std::shared_ptr<EngineState> state;
};

Node* copy_node(Graph& g, const char* op, Value* in, Value* out) {
  Node* n = g.add_node(op, {in}, {out}, g.unique_name(std::string(op) + "_" + in->name()));
  n->domain = kKilnDomain;
  n->opset = 1;
  n->schema = OpRegistry::global().find(kKilnDomain, op, 1);
  return n;
}

Result<FakeEngine> fake_engine(bool host_in_middle) {
  auto g = test::new_graph();
  const SymShape shape{Dim::sym("n"), Dim::known(4)};
  auto val = [&](const char* name) { return g->add_value(name, DataType::kFloat32, shape); };
  Value* x = test::input(*g, "x", DataType::kFloat32, shape);
  Value* xd = val("x_on_device");
  Value* r = val("r");
  Value* md = val("m_on_device");
  Value* y = val("y");
  Value* z = val("z");
  Value* k = g->add_constant("k", test::f32({4}, kScale));
  std::vector<Node*> device_nodes;
  device_nodes.push_back(copy_node(*g, "CopyToDevice", x, xd));
  device_nodes.push_back(test::op(*g, "Relu", {xd}, {r}, "relu"));
  Value* mul_in = r;
  if (host_in_middle) {
    Value* rh = val("r_on_host");
    Value* s = val("s");
    Value* sd = val("s_on_device");
    device_nodes.push_back(copy_node(*g, "CopyToHost", r, rh));
    test::op(*g, "Sin", {rh}, {s}, "sin");
    device_nodes.push_back(copy_node(*g, "CopyToDevice", s, sd));
    mul_in = sd;
  }
  device_nodes.push_back(test::op(*g, "Mul", {mul_in, k}, {md}, "mul"));
  device_nodes.push_back(copy_node(*g, "CopyToHost", md, y));
  test::op(*g, "Neg", {x}, {z}, "neg");
  g->add_output(y);
  g->add_output(z);

  EngineMeta meta;
  meta.backend = "reference";
  meta.producer = "test";
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<EngineState> st, make_engine_state(std::shared_ptr<Graph>(std::move(g)), meta, nullptr));
  // Now make it a device engine: the fake device, its kernels, device copies of constants.
  st->device = &fake();
  for (Node* n : device_nodes) {
    n->backend = "fake";
    st->on_device.insert(n);
    if (n->op_type == "CopyToDevice") {
      st->host_inputs[n] = {0};
      st->kernels[n] = std::make_unique<FakeCopyKernel>(true);
    } else if (n->op_type == "CopyToHost") {
      st->host_outputs[n] = {0};
      st->kernels[n] = std::make_unique<FakeCopyKernel>(false);
    } else {
      st->kernels[n] = std::make_unique<FakeMathKernel>(n->op_type == "Mul");
    }
  }
  KILN_ASSIGN_OR_RETURN(void* kd, fake().allocate(k->constant->nbytes()));
  std::memcpy(kd, k->constant->data(), k->constant->nbytes());
  std::shared_ptr<void> owner(kd, [](void* p) { fake().free(p); });
  st->device_constants[k] = Tensor::wrap(DataType::kFloat32, {4}, kd, owner);
  return FakeEngine{Engine(st), st};
}

// Seeded values in [-2, 2), none exactly 0.
std::vector<float> random_values(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) {
    f = u(rng);
    if (f == 0) f = 0.25f;
  }
  return v;
}

// What the fake engine computes, in double.
void expect_fake_outputs(const std::vector<float>& x, bool host_in_middle, const Tensor& y, const Tensor& z, const std::string& where) {
  ASSERT_EQ(y.numel(), static_cast<int64_t>(x.size())) << where;
  ASSERT_EQ(z.numel(), static_cast<int64_t>(x.size())) << where;
  for (size_t i = 0; i < x.size(); ++i) {
    double r = std::max(0.0, static_cast<double>(x[i]));
    if (host_in_middle) r = std::sin(r);
    const double want_y = r * kScale[i % 4];
    EXPECT_NEAR(y.data_as<float>()[i], want_y, 1e-6 * (1 + std::fabs(want_y))) << where << " y at " << i;
    EXPECT_EQ(z.data_as<float>()[i], -x[i]) << where << " z at " << i;
  }
}

Tensor poisoned(const Dims& dims) {
  Tensor t = test::f32(dims, {});
  std::memset(t.data(), 0xff, t.nbytes());  // NaN: an unwritten output shows
  return t;
}

// --- fake device: run() ---------------------------------------------------------------------------

TEST(DeviceGraph, PinnedStagingGivesTheSameOutputsWithoutGraphs) {
  for (bool middle : {false, true}) {
    auto fe = fake_engine(middle);
    ASSERT_TRUE(fe.ok()) << fe.status().message();
    EXPECT_TRUE(fe->engine.uses_device());
    auto ctx = fe->engine.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    for (int it = 0; it < 3; ++it) {
      const std::vector<float> x = random_values(12, 10 + it);
      NamedTensors out{{"y", poisoned({3, 4})}, {"z", poisoned({3, 4})}};
      Status s = (*ctx)->run({{"x", test::f32({3, 4}, x)}}, &out);
      ASSERT_TRUE(s.ok()) << s.message();
      expect_fake_outputs(x, middle, out.at("y"), out.at("z"), "run " + std::to_string(it));
    }
    EXPECT_EQ(fake().pageable_copies.load(), 0);
  }
}

TEST(DeviceGraph, ReplayReadsEachRunsInputs) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  EXPECT_TRUE((*ctx)->cuda_graph());
  const int launches_before = fake().launches.load();
  NamedTensors out;
  for (int it = 0; it < 6; ++it) {
    const std::vector<float> x = random_values(12, 100 + it);  // new values every run
    if (it % 2) out = {{"y", poisoned({3, 4})}, {"z", poisoned({3, 4})}};  // bound, poisoned
    else out.clear();                                                     // allocated by run
    Status s = (*ctx)->run({{"x", test::f32({3, 4}, x)}}, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_fake_outputs(x, false, out.at("y"), out.at("z"), "run " + std::to_string(it));
  }
  const auto c = (*ctx)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 1);  // the first run at the shape
  EXPECT_EQ(c.captured, 1);    // the second
  EXPECT_EQ(c.replayed, 4);
  EXPECT_EQ(fake().launches.load() - launches_before, 5);
  EXPECT_EQ((*ctx)->cuda_graph_note(), "");
}

TEST(DeviceGraph, ShapeChangeCapturesAgain) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  int it = 0;
  for (int64_t n : {3, 3, 3, 7, 7, 7, 7, 3, 3}) {
    const std::vector<float> x = random_values(n * 4, 200 + it);
    NamedTensors out;
    Status s = (*ctx)->run({{"x", test::f32({n, 4}, x)}}, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_fake_outputs(x, false, out.at("y"), out.at("z"), fmt::format("run {} n {}", it++, n));
  }
  const auto c = (*ctx)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 3);
  EXPECT_EQ(c.captured, 3);
  EXPECT_EQ(c.replayed, 3);
}

TEST(DeviceGraph, HostLayerBetweenDeviceLayersRunsUncapturedAndSaysWhich) {
  auto fe = fake_engine(true);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  for (int it = 0; it < 4; ++it) {
    const std::vector<float> x = random_values(8, 300 + it);
    NamedTensors out;
    Status s = (*ctx)->run({{"x", test::f32({2, 4}, x)}}, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_fake_outputs(x, true, out.at("y"), out.at("z"), "run " + std::to_string(it));
  }
  const auto c = (*ctx)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 4);
  EXPECT_EQ(c.captured + c.replayed, 0);
  const std::string note = (*ctx)->cuda_graph_note();
  EXPECT_TRUE(test::contains(note, "'sin'")) << note;
  EXPECT_TRUE(test::contains(note, "runs on the host")) << note;
  EXPECT_TRUE(test::contains(note, "r_on_host")) << note;
}

TEST(DeviceGraph, ProfilingAndGraphsAreExclusive) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  (*ctx)->set_profiling(true);
  Status s = (*ctx)->set_cuda_graph(true);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(test::contains(s.message(), "profiling")) << s.message();
  (*ctx)->set_profiling(false);
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  (*ctx)->set_profiling(true);  // later: runs are timed per layer, not captured
  for (int it = 0; it < 3; ++it) {
    const std::vector<float> x = random_values(4, 400 + it);
    NamedTensors out;
    ASSERT_TRUE((*ctx)->run({{"x", test::f32({1, 4}, x)}}, &out).ok());
    expect_fake_outputs(x, false, out.at("y"), out.at("z"), "profiled run");
  }
  EXPECT_EQ((*ctx)->cuda_graph_counts().replayed, 0);
  EXPECT_TRUE(test::contains((*ctx)->cuda_graph_note(), "profiling")) << (*ctx)->cuda_graph_note();
}

// Device layers are timed by the device's events, without waiting for the stream between
// layers; a device without events is waited for around each device layer instead. Either way
// every layer counts every run.
TEST(DeviceGraph, ProfilingTimesDeviceLayersByEventsWithoutWaiting) {
  for (bool events : {true, false}) {
    SCOPED_TRACE(events ? "device with events" : "device without events");
    fake().has_events = events;
    auto fe = fake_engine(false);
    ASSERT_TRUE(fe.ok()) << fe.status().message();
    auto ctx = fe->engine.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    (*ctx)->set_profiling(true);
    constexpr int kRuns = 3;
    const int syncs_before = fake().synchronizes.load();
    for (int it = 0; it < kRuns; ++it) {
      const std::vector<float> x = random_values(8, 500 + it);
      NamedTensors out;
      Status s = (*ctx)->run({{"x", test::f32({2, 4}, x)}}, &out);
      ASSERT_TRUE(s.ok()) << s.message();
      expect_fake_outputs(x, false, out.at("y"), out.at("z"), "profiled run");
    }
    const int syncs = fake().synchronizes.load() - syncs_before;
    const auto times = (*ctx)->layer_times();
    const Graph& g = *fe->state->graph;
    ASSERT_EQ(times.size(), g.num_nodes());
    int device_layers = 0;
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      const Node& n = *g.nodes()[i];
      EXPECT_EQ(times[i].runs, kRuns) << n.name;
      if (!fe->state->on_device.count(&n)) continue;
      ++device_layers;
      // Each fake device layer queues one piece of work: 1 ms on the fake clock per run.
      if (events) {
        EXPECT_DOUBLE_EQ(times[i].total_ms, kRuns * 1.0) << n.name;
      }
    }
    ASSERT_EQ(device_layers, 4);
    // With events a run waits where it always does (before the host layer that follows device
    // work, and at its end); without, also before and after each device layer.
    if (events) {
      EXPECT_LE(syncs, 2 * kRuns) << "stream waits in " << kRuns << " runs";
    } else {
      EXPECT_GE(syncs, 2 * device_layers * kRuns) << "stream waits in " << kRuns << " runs";
    }
    (*ctx)->set_profiling(false);
  }
  fake().has_events = true;
  EXPECT_EQ(fake().live_events.load(), 0) << "events outlive the profiling that made them";
}

// --- fake device: run_on_device -------------------------------------------------------------------

// Device memory of the fake device holding `values`.
std::shared_ptr<void> device_copy(const std::vector<float>& values) {
  auto p = fake().allocate(values.size() * sizeof(float));
  if (!p.ok()) std::abort();
  std::memcpy(*p, values.data(), values.size() * sizeof(float));
  return std::shared_ptr<void>(*p, [](void* q) { fake().free(q); });
}

Tensor host_view(const DeviceTensor& t) {
  return Tensor::wrap(t.dtype, t.dims, t.data);  // the fake device's memory is readable host memory
}

TEST(DeviceGraph, RunOnDeviceMatchesHostRunsWithAndWithoutGraphs) {
  for (bool graphs : {false, true}) {
    auto fe = fake_engine(false);
    ASSERT_TRUE(fe.ok()) << fe.status().message();
    auto ctx = fe->engine.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    ASSERT_TRUE((*ctx)->set_cuda_graph(graphs).ok());
    // The caller's buffers stay put (as they would for replay); their contents change every run.
    std::vector<float> x = random_values(12, 500);
    auto xd = device_copy(x);
    auto yd = device_copy(std::vector<float>(12, std::nanf("")));
    const int uploads_before = fake_uploads.load();
    for (int it = 0; it < 5; ++it) {
      x = random_values(12, 500 + it);
      std::memcpy(xd.get(), x.data(), x.size() * sizeof(float));
      std::memset(yd.get(), 0xff, 12 * sizeof(float));
      // y written in place into the caller's buffer; z (computed on the host) into the context's.
      NamedDeviceTensors out{{"y", DeviceTensor{DataType::kFloat32, {3, 4}, yd.get()}}};
      Status s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, &out);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(out.size(), 2u);
      EXPECT_EQ(out.at("y").data, yd.get());
      ASSERT_TRUE(fake().is_device_memory(out.at("z").data));
      EXPECT_EQ(out.at("z").dims, (Dims{3, 4}));
      expect_fake_outputs(x, false, host_view(out.at("y")), host_view(out.at("z")), fmt::format("graphs {} run {}", graphs, it));
      // The input is never written.
      EXPECT_EQ(std::memcmp(xd.get(), x.data(), x.size() * sizeof(float)), 0);
    }
    // No kiln.CopyToDevice ran: the layers read the caller's pointer.
    EXPECT_EQ(fake_uploads.load(), uploads_before);
    if (graphs) {
      const auto c = (*ctx)->cuda_graph_counts();
      EXPECT_EQ(c.uncaptured, 1);
      EXPECT_EQ(c.captured, 1);
      EXPECT_EQ(c.replayed, 3);
    }
    // Outputs not given a buffer point into memory the context owns.
    NamedDeviceTensors out;
    ASSERT_TRUE((*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, &out).ok());
    ASSERT_TRUE(fake().is_device_memory(out.at("y").data));
    expect_fake_outputs(x, false, host_view(out.at("y")), host_view(out.at("z")), "outputs owned by the context");
    // Handing those pointers back is fine (the value is already there).
    ASSERT_TRUE((*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, &out).ok());
    expect_fake_outputs(x, false, host_view(out.at("y")), host_view(out.at("z")), "outputs handed back");
  }
}

TEST(DeviceGraph, NewDeviceAddressesCaptureAgain) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  std::vector<std::shared_ptr<void>> keep;
  for (int it = 0; it < 6; ++it) {
    const std::vector<float> x = random_values(8, 600 + it);
    // A new input buffer from run 3 on: the graph holding the old address must not be replayed.
    if (it == 0 || it == 3) keep.push_back(device_copy(x));
    std::memcpy(keep.back().get(), x.data(), x.size() * sizeof(float));
    NamedDeviceTensors out;
    Status s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {2, 4}, keep.back().get()}}}, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_fake_outputs(x, false, host_view(out.at("y")), host_view(out.at("z")), "run " + std::to_string(it));
  }
  const auto c = (*ctx)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 1);
  EXPECT_EQ(c.captured, 2);  // runs 1 and 3
  EXPECT_EQ(c.replayed, 3);  // runs 2, 4, 5
  // Host I/O after device I/O: another graph, still right.
  const std::vector<float> x = random_values(8, 700);
  NamedTensors out;
  ASSERT_TRUE((*ctx)->run({{"x", test::f32({2, 4}, x)}}, &out).ok());
  expect_fake_outputs(x, false, out.at("y"), out.at("z"), "host run after device runs");
}

TEST(DeviceGraph, RunOnDeviceRefusesBadInputsWithASentence) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto ctx = fe->engine.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  auto xd = device_copy(random_values(12, 800));
  auto yd = device_copy(random_values(12, 801));
  auto expect_error = [&](const NamedDeviceTensors& in, NamedDeviceTensors out, const std::string& part) {
    Status s = (*ctx)->run_on_device(in, &out);
    ASSERT_FALSE(s.ok()) << "expected an error with '" << part << "'";
    EXPECT_TRUE(test::contains(s.message(), part)) << s.message();
  };
  expect_error({{"x", DeviceTensor{DataType::kFloat16, {3, 4}, xd.get()}}}, {}, "input 'x' has dtype float16, expected float32");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3, 5}, xd.get()}}}, {}, "input 'x' has shape 3x5");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3}, xd.get()}}}, {}, "input 'x' has shape 3 (rank 1)");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {-3, 4}, xd.get()}}}, {}, "dim 0 is negative");
  expect_error({}, {}, "missing input 'x'");
  std::vector<float> host(12, 1.0f);
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, host.data()}}}, {}, "input 'x' is not in device memory");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, nullptr}}}, {}, "input 'x' has no data");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, {{"y", DeviceTensor{DataType::kFloat32, {4, 3}, yd.get()}}},
               "output 'y' is given as float32[4x3], but the engine gives float32[3x4]");
  expect_error({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, {{"y", DeviceTensor{DataType::kFloat32, {3, 4}, host.data()}}},
               "output 'y' is not in device memory");
  Status s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, nullptr);
  EXPECT_FALSE(s.ok());
  // After the refusals the context still runs.
  NamedDeviceTensors out;
  const std::vector<float> x = random_values(12, 800);
  ASSERT_TRUE((*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {3, 4}, xd.get()}}}, &out).ok());
  expect_fake_outputs(x, false, host_view(out.at("y")), host_view(out.at("z")), "after refusals");
}

TEST(DeviceGraph, TwoContextsAtOnceWithGraphs) {
  auto fe = fake_engine(false);
  ASSERT_TRUE(fe.ok()) << fe.status().message();
  auto work = [&](int which, std::string* failure) {
    auto ctx = fe->engine.create_execution_context();
    if (!ctx.ok() || !(*ctx)->set_cuda_graph(true).ok()) {
      *failure = "no context";
      return;
    }
    for (int it = 0; it < 50 && failure->empty(); ++it) {
      const int64_t n = 1 + (it / 10 + which) % 3;  // shapes change now and then
      const std::vector<float> x = random_values(n * 4, 1000 * which + it);
      NamedTensors out;
      Status s = (*ctx)->run({{"x", test::f32({n, 4}, x)}}, &out);
      if (!s.ok()) {
        *failure = s.message();
        return;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        const float want = std::max(0.0f, x[i]) * kScale[i % 4];
        if (out.at("y").data_as<float>()[i] != want || out.at("z").data_as<float>()[i] != -x[i]) {
          *failure = fmt::format("context {} run {}: wrong output at {}", which, it, i);
          return;
        }
      }
    }
    if ((*ctx)->cuda_graph_counts().replayed == 0) *failure = fmt::format("context {} never replayed", which);
  };
  std::string f0, f1;
  std::thread t0(work, 0, &f0), t1(work, 1, &f1);
  t0.join();
  t1.join();
  EXPECT_EQ(f0, "");
  EXPECT_EQ(f1, "");
}

// --- engines without a device ---------------------------------------------------------------------

std::unique_ptr<Graph> relu_graph() {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::known(2), Dim::known(3)});
  Value* y = g->add_value("y");
  test::op(*g, "Relu", {x}, {y}, "relu");
  g->add_output(y);
  return g;
}

TEST(DeviceGraph, HostEnginesRefuseDeviceRunsAndGraphs) {
  for (const char* backend : {"reference", "cpu"}) {
    BuilderConfig config = test::quiet_config();
    config.backend = backend;
    auto e = test::build(relu_graph(), config);
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_FALSE(e->uses_device());
    auto ctx = e->create_execution_context();
    ASSERT_TRUE(ctx.ok());
    Status s = (*ctx)->set_cuda_graph(true);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(test::contains(s.message(), "CUDA graphs need an engine whose layers run on a device")) << s.message();
    EXPECT_TRUE(test::contains(s.message(), fmt::format("'{}' backend", backend))) << s.message();
    EXPECT_FALSE((*ctx)->cuda_graph());
    float data[6] = {1, -2, 3, -4, 5, -6};
    NamedDeviceTensors out;
    s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {2, 3}, data}}}, &out);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(test::contains(s.message(), "run_on_device needs an engine whose layers run on a device")) << s.message();
    EXPECT_TRUE(out.empty());
    // run() is as before.
    NamedTensors hout;
    ASSERT_TRUE((*ctx)->run({{"x", test::f32({2, 3}, {1, -2, 3, -4, 5, -6})}}, &hout).ok());
    EXPECT_EQ(test::floats(hout.at("y")), (std::vector<float>{1, 0, 3, 0, 5, 0}));
  }
}

// --- the cuda backend -----------------------------------------------------------------------------

bool cuda_usable() {
  const Backend* b = find_backend("cuda");
  return b && b->available().ok();
}

#define KILN_REQUIRE_CUDA() \
  if (!cuda_usable()) GTEST_SKIP() << "skipped: no CUDA device"

// x[n,8] -> MatMul(W[8,6]) -> Relu -> Mul(k[6]) -> Sigmoid = y, and x -> Neg = z (Neg has a CUDA
// kernel too); with `fallback`, a Sin (no CUDA kernel: a host fallback) between Relu and Mul.
std::unique_ptr<Graph> cuda_graph_model(bool fallback) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::sym("n"), Dim::known(8)});
  std::vector<float> w(48);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((static_cast<int>(i * 7) % 13) - 6) / 8.0f;
  Value* mm = g->add_value("mm");
  Value* r = g->add_value("r");
  Value* m = g->add_value("m");
  Value* y = g->add_value("y");
  Value* z = g->add_value("z");
  test::op(*g, "MatMul", {x, g->add_constant("W", test::f32({8, 6}, w))}, {mm}, "matmul");
  test::op(*g, "Relu", {mm}, {r}, "relu");
  Value* mul_in = r;
  if (fallback) {
    mul_in = g->add_value("s");
    test::op(*g, "Sin", {r}, {mul_in}, "sin");
  }
  test::op(*g, "Mul", {mul_in, g->add_constant("k", test::f32({6}, {0.5f, -2.0f, 3.0f, 1.5f, -0.75f, 1.0f}))}, {m}, "mul");
  test::op(*g, "Sigmoid", {m}, {y}, "sigmoid");
  test::op(*g, "Neg", {x}, {z}, "neg");
  g->add_output(y);
  g->add_output(z);
  return g;
}

struct CudaPair {
  Engine cuda, reference;
};

Result<CudaPair> cuda_and_reference(bool fallback) {
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 1;
  KILN_ASSIGN_OR_RETURN(Engine cuda, test::build(cuda_graph_model(fallback), config));
  KILN_ASSIGN_OR_RETURN(Engine ref, test::build(cuda_graph_model(fallback)));
  return CudaPair{std::move(cuda), std::move(ref)};
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& where) {
  ASSERT_EQ(got.shape(), want.shape()) << where;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data_as<float>()[i], w = want.data_as<float>()[i];
    EXPECT_NEAR(g, w, 1e-5 + 1e-4 * std::fabs(w)) << where << " at " << i;
  }
}

NamedTensors reference_outputs(const Engine& ref, const NamedTensors& in) {
  auto ctx = ref.create_execution_context();
  NamedTensors out;
  EXPECT_TRUE(ctx.ok() && (*ctx)->run(in, &out).ok());
  return out;
}

TEST(CudaGraph, ReplayMatchesUncapturedRunsAndRecapturesOnANewShape) {
  KILN_REQUIRE_CUDA();
  auto e = cuda_and_reference(false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  for (const LayerInfo& l : e->cuda.info().layers) {
    if (l.name == "matmul" || l.name == "relu" || l.name == "sigmoid") {
      EXPECT_EQ(l.backend, "cuda") << l.name;
    }
  }
  auto plain = e->cuda.create_execution_context();
  auto graphed = e->cuda.create_execution_context();
  ASSERT_TRUE(plain.ok() && graphed.ok());
  ASSERT_TRUE((*graphed)->set_cuda_graph(true).ok());
  int it = 0;
  for (int64_t n : {5, 5, 5, 5, 5, 17, 17, 17, 17}) {
    const NamedTensors in{{"x", test::f32({n, 8}, random_values(n * 8, 900 + it))}};
    NamedTensors want = reference_outputs(e->reference, in);
    NamedTensors a{{"y", poisoned({n, 6})}, {"z", poisoned({n, 8})}}, b{{"y", poisoned({n, 6})}, {"z", poisoned({n, 8})}};
    Status s = (*plain)->run(in, &a);
    ASSERT_TRUE(s.ok()) << s.message();
    s = (*graphed)->run(in, &b);
    ASSERT_TRUE(s.ok()) << s.message();
    for (const char* name : {"y", "z"}) {
      const std::string where = fmt::format("{} run {} n {}", name, it, n);
      expect_close(a.at(name), want.at(name), "uncaptured " + where);
      expect_close(b.at(name), want.at(name), "graph " + where);
    }
    ++it;
  }
  const auto c = (*graphed)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 2);
  EXPECT_EQ(c.captured, 2);
  EXPECT_EQ(c.replayed, 5);
  EXPECT_EQ((*graphed)->cuda_graph_note(), "");
}

TEST(CudaGraph, FallbackBetweenDeviceLayersIsNotCapturedAndNamed) {
  KILN_REQUIRE_CUDA();
  auto e = cuda_and_reference(true);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto ctx = e->cuda.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  for (int it = 0; it < 3; ++it) {
    const NamedTensors in{{"x", test::f32({4, 8}, random_values(32, 950 + it))}};
    NamedTensors want = reference_outputs(e->reference, in), got;
    Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_close(got.at("y"), want.at("y"), "y");
    expect_close(got.at("z"), want.at("z"), "z");
  }
  EXPECT_EQ((*ctx)->cuda_graph_counts().uncaptured, 3);
  EXPECT_TRUE(test::contains((*ctx)->cuda_graph_note(), "'sin'")) << (*ctx)->cuda_graph_note();
}

// Device memory through the engine's own Device (so the test needs no CUDA headers).
struct DeviceBuffer {
  const Device* device;
  std::shared_ptr<void> p;
  DeviceBuffer(const Device* d, size_t bytes) : device(d) {
    auto r = d->allocate(bytes);
    EXPECT_TRUE(r.ok());
    p = std::shared_ptr<void>(*r, [d](void* q) { d->free(q); });
  }
};

Status upload(const Device* d, void* dst, const Tensor& t) {
  KILN_RETURN_IF_ERROR(d->copy_to_device(dst, t.data(), t.nbytes(), nullptr));
  return d->synchronize(nullptr);
}

Result<Tensor> download(const Device* d, const DeviceTensor& t) {
  KILN_ASSIGN_OR_RETURN(Tensor h, Tensor::allocate(t.dtype, t.dims));
  KILN_RETURN_IF_ERROR(d->copy_to_host(h.data(), t.data, h.nbytes(), nullptr));
  KILN_RETURN_IF_ERROR(d->synchronize(nullptr));
  return h;
}

TEST(CudaGraph, DeviceBoundInputsAndOutputsMatchHostRuns) {
  KILN_REQUIRE_CUDA();
  auto e = cuda_and_reference(false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const Device* d = e->cuda.state()->device;
  ASSERT_NE(d, nullptr);
  for (bool graphs : {false, true}) {
    auto ctx = e->cuda.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    ASSERT_TRUE((*ctx)->set_cuda_graph(graphs).ok());
    DeviceBuffer xb(d, 6 * 8 * 4), yb(d, 6 * 6 * 4);
    for (int it = 0; it < 5; ++it) {
      const Tensor x = test::f32({6, 8}, random_values(48, 1100 + it));
      ASSERT_TRUE(upload(d, xb.p.get(), x).ok());
      ASSERT_TRUE(upload(d, yb.p.get(), poisoned({6, 6})).ok());
      NamedDeviceTensors out{{"y", DeviceTensor{DataType::kFloat32, {6, 6}, yb.p.get()}}};
      Status s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {6, 8}, xb.p.get()}}}, &out);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(out.at("y").data, yb.p.get());  // written in place
      const NamedTensors want = reference_outputs(e->reference, {{"x", x}});
      for (const char* name : {"y", "z"}) {
        auto got = download(d, out.at(name));
        ASSERT_TRUE(got.ok()) << got.status().message();
        expect_close(*got, want.at(name), fmt::format("graphs {} run {} {}", graphs, it, name));
      }
      auto x_after = download(d, DeviceTensor{DataType::kFloat32, {6, 8}, xb.p.get()});
      ASSERT_TRUE(x_after.ok());
      EXPECT_TRUE(test::same_bits(*x_after, x)) << "the input was written";
    }
    if (graphs) {
      EXPECT_EQ((*ctx)->cuda_graph_counts().replayed, 3);
    }
    // A host pointer is refused, naming the input.
    std::vector<float> host(48, 1.0f);
    NamedDeviceTensors out;
    Status s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat32, {6, 8}, host.data()}}}, &out);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(test::contains(s.message(), "input 'x' is not in device memory")) << s.message();
    s = (*ctx)->run_on_device({{"x", DeviceTensor{DataType::kFloat16, {6, 8}, xb.p.get()}}}, &out);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(test::contains(s.message(), "input 'x' has dtype float16")) << s.message();
  }
}

TEST(CudaGraph, TwoContextsAtOnce) {
  KILN_REQUIRE_CUDA();
  auto e = cuda_and_reference(false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  // Expected outputs first, on this thread.
  std::vector<NamedTensors> inputs, wants;
  for (int it = 0; it < 40; ++it) {
    const int64_t n = 3 + it / 20 * 9;
    inputs.push_back({{"x", test::f32({n, 8}, random_values(n * 8, 1200 + it))}});
    wants.push_back(reference_outputs(e->reference, inputs.back()));
  }
  auto work = [&](int which, std::string* failure) {
    auto ctx = e->cuda.create_execution_context();
    if (!ctx.ok() || !(*ctx)->set_cuda_graph(true).ok()) {
      *failure = "no context";
      return;
    }
    for (size_t it = 0; it < inputs.size(); ++it) {
      const size_t k = which ? inputs.size() - 1 - it : it;  // the two walk the inputs in opposite orders
      NamedTensors out;
      Status s = (*ctx)->run(inputs[k], &out);
      if (!s.ok()) {
        *failure = s.message();
        return;
      }
      for (const char* name : {"y", "z"}) {
        const Tensor& got = out.at(name);
        const Tensor& want = wants[k].at(name);
        for (int64_t i = 0; i < got.numel(); ++i) {
          const double g = got.data_as<float>()[i], w = want.data_as<float>()[i];
          if (!(std::fabs(g - w) <= 1e-5 + 1e-4 * std::fabs(w))) {
            *failure = fmt::format("context {} input {} {}[{}]: {} vs {}", which, k, name, i, g, w);
            return;
          }
        }
      }
    }
    if ((*ctx)->cuda_graph_counts().replayed == 0) *failure = fmt::format("context {} never replayed", which);
  };
  std::string f0, f1;
  std::thread t0(work, 0, &f0), t1(work, 1, &f1);
  t0.join();
  t1.join();
  EXPECT_EQ(f0, "");
  EXPECT_EQ(f1, "");
}

}  // namespace
}  // namespace kiln
