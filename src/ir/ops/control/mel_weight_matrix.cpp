// MelWeightMatrix: a [dft_length/2 + 1, num_mel_bins] matrix of triangular mel filters.
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/signal_infer.h"

namespace kiln {

void register_mel_weight_matrix(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MelWeightMatrix";
  s.since_version = 17;
  s.min_inputs = s.max_inputs = 5;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_ASSIGN_OR_RETURN(DataType t, output_datatype_attr(ctx));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> bins, scalar_int_input(ctx, 0, "num_mel_bins"));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> dft, scalar_int_input(ctx, 1, "dft_length"));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> rate, scalar_int_input(ctx, 2, "sample_rate"));
    if (bins && *bins <= 0) return ctx.error(fmt::format("input 0 'num_mel_bins' is {}, expected > 0", *bins));
    if (dft && *dft <= 0) return ctx.error(fmt::format("input 1 'dft_length' is {}, expected > 0", *dft));
    if (rate && *rate <= 0) return ctx.error(fmt::format("input 2 'sample_rate' is {}, expected > 0", *rate));
    for (size_t i : {size_t{3}, size_t{4}}) {
      const DataType ti = ctx.input_dtype(i);
      if (ti != DataType::kUndefined && !dtype_is_float(ti)) {
        return ctx.error(fmt::format("input {} has dtype {}, expected a float type", i, dtype_name(ti)));
      }
    }
    ctx.set_output(0, t,
                   SymShape{dft ? Dim::known(*dft / 2 + 1) : Dim::unknown(), bins ? Dim::known(*bins) : Dim::unknown()});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
