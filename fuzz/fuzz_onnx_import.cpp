// libFuzzer target: arbitrary bytes as an ONNX model, through kiln::Builder::build_from_bytes
// with the reference backend. A build that succeeds is serialized and loaded back, and when the
// engine is small and static it is also run on zero-filled inputs, so mutated attributes and
// shapes reach the kernels.
//
// Any crash, sanitizer report, empty/multi-line error message or kInternal error is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_drive.h"

namespace {

void check(const kiln::Status& s, const char* stage) {
  const std::string problem = kiln::fuzz::status_problem(s);
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_onnx_import: %s: %s\n", stage, problem.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Models past 1 MiB only slow the fuzzer down; the interesting structure is small.
  if (size > (size_t{1} << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const kiln::fuzz::OnnxOutcome o = kiln::fuzz::drive_onnx(bytes);
  check(o.build, "build");
  if (!o.roundtrip.ok()) {
    // A model kiln built must save and load again.
    std::fprintf(stderr, "fuzz_onnx_import: built engine does not load back: %s\n", o.roundtrip.message().c_str());
    std::abort();
  }
  if (o.ran) check(o.run, "run");
  return 0;
}
