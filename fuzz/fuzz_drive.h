// What the fuzz targets and the malformed-input corpus test do with one input, in one place so a
// crash the fuzzer finds replays through exactly the same calls in `kiln_tests`
// (tests/malformed/corpus_test.cpp replays tests/malformed/regressions/ with these functions).
//
// Everything here goes through the public API, plus a look at the engine's graph (an internal
// header) to decide whether a run is small enough to try.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "ir/graph.h"
#include "kiln/kiln.h"
#include "runtime/engine_state.h"

namespace kiln::fuzz {

// The engine file's layout (src/engine/engine_file.h): an 80-byte preamble whose u64 at offset 64
// is XXH3-64 of every byte after the preamble.
constexpr size_t kPreambleSize = 80;
constexpr size_t kChecksumOffset = 64;

// Rewrites the checksum so that mutations behind it reach the header/graph/weights parsers
// instead of being refused at the checksum. Inputs too short to have a preamble are left alone.
inline std::string with_valid_checksum(std::string bytes) {
  if (bytes.size() < kPreambleSize) return bytes;
  const uint64_t sum = XXH3_64bits(bytes.data() + kPreambleSize, bytes.size() - kPreambleSize);
  std::memcpy(bytes.data() + kChecksumOffset, &sum, sizeof sum);  // little-endian host
  return bytes;
}

// An error must be a value with a one-line, non-empty message; kInternal means kiln itself is
// confused (a bug). Returns a description of the violation, or "" if the status is acceptable.
inline std::string status_problem(const Status& s) {
  if (s.ok()) return "";
  if (s.message().empty()) return "error with an empty message";
  if (s.message().find('\n') != std::string::npos) return "multi-line error message: " + s.message();
  if (s.code() == StatusCode::kInternal) return "internal error: " + s.message();
  return "";
}

// Whether running `engine` on zero-filled inputs is cheap and bounded: every value of the main
// graph has a static shape of at most `max_elements` elements and no node carries a subgraph
// (Loop/Scan trip counts come from data). Data-dependent sizes are skipped: a run of an
// arbitrary model may legitimately need more memory than a fuzzer allows.
inline bool small_static_engine(const Engine& engine, int64_t max_elements = int64_t{1} << 18) {
  const Graph& g = *engine.state()->graph;
  if (g.num_nodes() > 256) return false;
  for (const auto& v : g.values()) {
    if (!is_static(v->shape) || element_count(static_dims(*v->shape)) > max_elements) return false;
  }
  for (const auto& n : g.nodes()) {
    for (const auto& [name, a] : n->attrs.all()) {
      if (a.g || !a.graphs.empty()) return false;
    }
  }
  for (const IoInfo& io : engine.inputs()) {
    if (dtype_size(io.dtype) == 0) return false;
  }
  return true;
}

// Runs `engine` once with zero-filled inputs of its declared shapes (twice: the second run
// reuses the plan and the bound outputs).
inline Status run_with_zero_inputs(const Engine& engine) {
  KILN_ASSIGN_OR_RETURN(auto ctx, engine.create_execution_context());
  NamedTensors inputs;
  for (const IoInfo& io : engine.inputs()) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(io.dtype, io.dims));  // zero-filled
    inputs[io.name] = std::move(t);
  }
  NamedTensors outputs;
  KILN_RETURN_IF_ERROR(ctx->run(inputs, &outputs));
  return ctx->run(inputs, &outputs);
}

// The ONNX importer path: build with the reference backend; if that works, serialize, load the
// result back, and (when small) run it. Returns the first error, or ok.
struct OnnxOutcome {
  Status build;       // the build's status
  Status roundtrip;   // serialize + load_from_memory of a built engine (must be ok)
  Status run;         // the zero-input run, if one was tried
  bool ran = false;
};

inline OnnxOutcome drive_onnx(const std::string& bytes, bool try_run = true) {
  OnnxOutcome o;
  BuilderConfig config;
  config.show_progress = false;
  Builder builder(config);
  auto engine = builder.build_from_bytes(bytes, "fuzz.onnx");
  if (!engine.ok()) {
    o.build = engine.status();
    return o;
  }
  auto bytes_out = engine->serialize();
  if (!bytes_out.ok()) {
    o.roundtrip = bytes_out.status();
    return o;
  }
  auto loaded = Engine::load_from_memory(*bytes_out);
  if (!loaded.ok()) {
    o.roundtrip = loaded.status();
    return o;
  }
  if (try_run && small_static_engine(*engine)) {
    o.ran = true;
    o.run = run_with_zero_inputs(*engine);
  }
  return o;
}

// The engine loader path: load; if that works, look at everything the engine describes and (when
// small) run it, so a graph that loads but is inconsistent is found too.
struct EngineOutcome {
  Status load;
  Status run;
  bool ran = false;
};

inline EngineOutcome drive_engine(const std::string& bytes, bool try_run = true) {
  EngineOutcome o;
  auto engine = Engine::load_from_memory(bytes);
  if (!engine.ok()) {
    o.load = engine.status();
    return o;
  }
  const EngineInfo info = engine->info();
  for (const IoInfo& io : info.inputs) (void)io.shape_string();
  for (const IoInfo& io : info.outputs) (void)io.shape_string();
  if (try_run && small_static_engine(*engine)) {
    o.ran = true;
    o.run = run_with_zero_inputs(*engine);
  }
  return o;
}

}  // namespace kiln::fuzz
