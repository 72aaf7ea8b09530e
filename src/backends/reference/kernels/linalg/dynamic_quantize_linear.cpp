// DynamicQuantizeLinear: uint8 quantization with scale and zero point from x's range (widened to
// include 0), in float32 arithmetic as the spec's formula.
#include <algorithm>

#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.dtype() != DataType::kFloat32)
    return ctx.error(fmt::format("input 'x' {} must be float32", x.describe()));
  const float* xp = x.data_as<float>();
  const int64_t n = x.numel();
  float maxx = 0.0f, minx = 0.0f;  // the range always includes 0
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(xp[i])) continue;
    maxx = std::max(maxx, xp[i]);
    minx = std::min(minx, xp[i]);
  }
  const float scale = (maxx == minx ? 1.0f : (maxx - minx)) / 255.0f;
  const float zp_f = std::min(255.0f, std::max(0.0f, 0.0f - minx / scale));
  const float zpi = std::nearbyint(zp_f);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kUInt8, x.shape()));
  KILN_ASSIGN_OR_RETURN(Tensor * ys, ctx.allocate_output(1, DataType::kFloat32, {}));
  KILN_ASSIGN_OR_RETURN(Tensor * yz, ctx.allocate_output(2, DataType::kUInt8, {}));
  uint8_t* yp = y->data_as<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    yp[i] = saturate_round<uint8_t>(std::nearbyint(xp[i] / scale) + zpi);
  *ys->data_as<float>() = scale;
  *yz->data_as<uint8_t>() = static_cast<uint8_t>(zpi);
  return ok_status();
}

}  // namespace kiln
