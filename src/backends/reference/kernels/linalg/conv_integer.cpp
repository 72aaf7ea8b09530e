// ConvInteger: an exact integer convolution of the zero-point-shifted operands, stored as int32.
#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_conv_integer(KernelContext& ctx) {
  ConvGeom g;
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(std::vector<uint64_t> acc,
                        integer_conv(ctx, *ctx.input(0), *ctx.input(1), ctx.input(2), ctx.input(3),
                                     nullptr, g, out_dims));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt32, out_dims));
  int32_t* yp = y->data_as<int32_t>();
  for (size_t i = 0; i < acc.size(); ++i) yp[i] = static_cast<int32_t>(acc[i]);
  return ok_status();
}

}  // namespace kiln
