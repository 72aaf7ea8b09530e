// ConvTranspose: the gradient of Conv. X [N, C, D1..Dn], W [C, M/group, k1..kn] -> [N, M, ...];
// output size from pads, output_padding, or output_shape / SAME auto_pad (which compute the pads).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/conv_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_conv_transpose(OpRegistry& r) {
  OpSchema s;
  s.op_type = "ConvTranspose";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"X", "W", "B"};
    for (size_t i = 0; i < 3; ++i) {
      KILN_RETURN_IF_ERROR(check_input_dtype(
          ctx, i, kNames[i],
          {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}));
    }
    const MaybeShape& sx = ctx.input_shape(0);
    const MaybeShape& sw = ctx.input_shape(1);
    if (!sx && !sw) {
      ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
      return ok_status();
    }
    const size_t rank = sx ? sx->size() : sw->size();
    if (rank < 3)
      return ctx.error(fmt::format("input rank is {}, expected >= 3 (N, C, spatial...)", rank));
    if (sx && sw && sx->size() != sw->size()) {
      return ctx.error(fmt::format("X {} and W {} have different ranks", shape_to_string(sx),
                                   shape_to_string(sw)));
    }
    const size_t ns = rank - 2;
    // The reference kernels handle 1-D to 3-D (every conv kiln has met in practice).
    if (ns > 3)
      return ctx.unsupported_error(fmt::format("{}-D convolution (at most 3 spatial dims)", ns));
    std::vector<int64_t> wk(ns, -1);
    if (sw) {
      for (size_t i = 0; i < ns; ++i) wk[i] = (*sw)[i + 2].value;
    }
    auto params = read_conv_params(ctx.attrs(), ns, wk, true);
    if (!params.ok()) return ctx.error(params.status().message());
    const ConvParams& p = *params;
    if (sx && sw && (*sx)[1].is_known() && (*sw)[0].is_known() &&
        (*sx)[1].value != (*sw)[0].value) {
      return ctx.error(fmt::format("X has {} channels but W {} has {}", (*sx)[1].value,
                                   shape_to_string(sw), (*sw)[0].value));
    }
    if (sw && (*sw)[0].is_known() && (*sw)[0].value % p.group != 0) {
      return ctx.error(fmt::format("W has {} input channels, not a multiple of group {}",
                                   (*sw)[0].value, p.group));
    }
    SymShape out(rank, Dim::unknown());
    if (sx) out[0] = (*sx)[0];
    if (sw && (*sw)[1].is_known()) out[1] = Dim::known((*sw)[1].value * p.group);
    for (size_t i = 0; i < ns; ++i) {
      if (!p.output_shape.empty()) {
        out[i + 2] = Dim::known(p.output_shape[i]);
        continue;
      }
      if (!sx || !(*sx)[i + 2].is_known() || p.kernel[i] < 0) continue;
      auto d = conv_transpose_output_dim(p, i, (*sx)[i + 2].value);
      if (!d.ok()) return ctx.error(d.status().message());
      out[i + 2] = Dim::known(d->out);
    }
    if (const MaybeShape& b = ctx.input_shape(2); ctx.has_input(2) && b) {
      if (b->size() != 1)
        return ctx.error(fmt::format("input 2 'B' has rank {}, expected 1", b->size()));
      if (out[1].is_known() && (*b)[0].is_known() && (*b)[0].value != out[1].value) {
        return ctx.error(
            fmt::format("input 2 'B' has {} values, expected {}", (*b)[0].value, out[1].value));
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
