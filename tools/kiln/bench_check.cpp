#include "bench_check.h"

#include <cmath>

#include "core/dispatch.h"
#include "core/sha256.h"
#include "fmt/format.h"
#include "onnx/importer.h"

namespace kiln::cli {

namespace {

// Compares one output with the reference's; both have the engine's dtype and shape.
Result<OutputError> compare(const std::string& name, const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return invalid_argument(fmt::format("--check: output '{}' is {} in the engine but {} in the fp32 reference", name, got.describe(),
                                        want.describe()));
  }
  OutputError e;
  e.name = name;
  e.elements = got.numel();
  double diff2 = 0, ref2 = 0;
  Status s = dispatch_all(got.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* a = got.data_as<T>();
    const T* b = want.data_as<T>();
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double x = static_cast<double>(static_cast<compute_t<T>>(a[i]));
      const double r = static_cast<double>(static_cast<compute_t<T>>(b[i]));
      if (!dtype_is_float(got.dtype())) {
        e.mismatched += x != r;
        continue;
      }
      if (!std::isfinite(x) && std::isfinite(r)) {
        ++e.mismatched;
        continue;
      }
      if (!std::isfinite(r)) continue;  // the reference itself overflows here: nothing to measure
      diff2 += (x - r) * (x - r);
      ref2 += r * r;
      e.max_abs = std::max(e.max_abs, std::fabs(x - r));
      e.max_abs_ref = std::max(e.max_abs_ref, std::fabs(r));
    }
    return ok_status();
  });
  if (!s.ok()) return s;
  e.rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  return e;
}

}  // namespace

Result<std::vector<OutputError>> check_against_fp32(const std::string& onnx_path, const std::string& expected_sha256,
                                                    const NamedTensors& inputs, const NamedTensors& outputs) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_path));
  if (!expected_sha256.empty() && sha256_hex(bytes) != expected_sha256) {
    return invalid_argument(fmt::format("--check-model {}: this is not the model the engine was built from (sha256 {}, the engine's "
                                        "source has {})",
                                        onnx_path, sha256_hex(bytes), expected_sha256));
  }
  BuilderConfig config;
  config.backend = "reference";  // the oracle: plain kernels, the model's own fp32
  config.opt_level = 1;          // cleanup only: no fused op stands between it and the ONNX graph
  config.show_progress = false;
  Builder builder(config);
  KILN_ASSIGN_OR_RETURN(Engine reference, builder.build_from_file(onnx_path));
  KILN_ASSIGN_OR_RETURN(auto ctx, reference.create_execution_context());
  NamedTensors want;
  KILN_RETURN_IF_ERROR(ctx->run(inputs, &want).with_context("--check: the fp32 reference run"));
  std::vector<OutputError> errors;
  for (const auto& [name, got] : outputs) {
    auto it = want.find(name);
    if (it == want.end()) return invalid_argument(fmt::format("--check: the fp32 reference has no output '{}'", name));
    KILN_ASSIGN_OR_RETURN(OutputError e, compare(name, got, it->second));
    errors.push_back(std::move(e));
  }
  return errors;
}

}  // namespace kiln::cli
