// libFuzzer target: arbitrary bytes as an engine file, through kiln::Engine::load_from_memory.
//
// The checksum (XXH3-64 of everything after the 80-byte preamble) refuses almost every mutation
// at once, so by default the target tries each input twice: as given (the preamble checks and the
// checksum itself) and with the checksum recomputed (the header JSON, graph CBOR and weights
// parsing behind it). Set KILN_FUZZ_ENGINE_MODE=raw or =fixsum to use one path only.
//
// Any crash, sanitizer report, empty/multi-line error message or kInternal error is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz_drive.h"

namespace {

enum Mode { kBoth, kRaw, kFixSum };

Mode mode() {
  static const Mode m = [] {
    const char* e = std::getenv("KILN_FUZZ_ENGINE_MODE");
    if (e && std::strcmp(e, "raw") == 0) return kRaw;
    if (e && std::strcmp(e, "fixsum") == 0) return kFixSum;
    return kBoth;
  }();
  return m;
}

void check(const kiln::Status& s, const char* stage) {
  const std::string problem = kiln::fuzz::status_problem(s);
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_engine_load: %s: %s\n", stage, problem.c_str());
    std::abort();
  }
}

void drive(const std::string& bytes, const char* stage) {
  const kiln::fuzz::EngineOutcome o = kiln::fuzz::drive_engine(bytes);
  check(o.load, stage);
  if (o.ran) check(o.run, "run");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (size_t{1} << 20)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (mode() != kFixSum) drive(bytes, "load");
  if (mode() != kRaw) drive(kiln::fuzz::with_valid_checksum(bytes), "load (checksum fixed)");
  return 0;
}
