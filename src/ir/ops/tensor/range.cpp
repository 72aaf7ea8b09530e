// Range: start, start+delta, ... up to (not including) limit; all three are scalars of one
// dtype (float, double, int16, int32, int64). The length is known only from known inputs.
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

namespace {
bool range_dtype_ok(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}
}  // namespace

void register_range(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Range";
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    if (dt != DataType::kUndefined && !range_dtype_ok(dt)) {
      return ctx.error(fmt::format("dtype {} is not one of float, double, int16, int32, int64", dtype_name(dt)));
    }
    for (size_t i = 0; i < 3; ++i) {
      const DataType t = ctx.input_dtype(i);
      if (t != DataType::kUndefined && dt != DataType::kUndefined && t != dt) {
        return ctx.error(fmt::format("input {} has dtype {}, expected {}", i, dtype_name(t), dtype_name(dt)));
      }
      const MaybeShape& sh = ctx.input_shape(i);
      if (sh && !(sh->empty() || (sh->size() == 1 && (*sh)[0] == Dim::known(1)))) {
        return ctx.error(fmt::format("input {} must be a scalar, has shape {}", i, shape_to_string(sh)));
      }
    }
    const Tensor* a = ctx.input_value(0);
    const Tensor* b = ctx.input_value(1);
    const Tensor* c = ctx.input_value(2);
    if (!a || !b || !c) {
      // Range(0, n, 1) with n a dim read from a shape (GPT-2's position ids): exactly n long.
      auto start = ctx.input_elems(0), limit = ctx.input_elems(1), delta = ctx.input_elems(2);
      if (start && limit && delta && start->size() == 1 && limit->size() == 1 && delta->size() == 1 &&
          (*start)[0].number == 0 && (*delta)[0].number == 1 && !(*limit)[0].number && !(*limit)[0].dim.symbol.empty()) {
        ctx.set_output(0, dt, SymShape{(*limit)[0].dim});
        return ok_status();
      }
      ctx.set_output(0, dt, unknown_dims(1));
      return ok_status();
    }
    Result<int64_t> n = int64_t{0};
    if (dtype_is_float(dt)) {
      KILN_ASSIGN_OR_RETURN(auto va, read_doubles(*a));
      KILN_ASSIGN_OR_RETURN(auto vb, read_doubles(*b));
      KILN_ASSIGN_OR_RETURN(auto vc, read_doubles(*c));
      if (va.size() != 1 || vb.size() != 1 || vc.size() != 1) return ctx.error("inputs must be scalars");
      n = range_count_double(va[0], vb[0], vc[0], dt == DataType::kFloat32);
    } else {
      std::vector<int64_t> v[3];
      const Tensor* ts[3] = {a, b, c};
      for (int i = 0; i < 3; ++i) {
        KILN_RETURN_IF_ERROR(dispatch_int(ts[i]->dtype(), [&](auto tag) {
          using T = typename decltype(tag)::type;
          for (int64_t k = 0; k < ts[i]->numel(); ++k) v[i].push_back(static_cast<int64_t>(ts[i]->data_as<T>()[k]));
          return ok_status();
        }));
        if (v[i].size() != 1) return ctx.error("inputs must be scalars");
      }
      n = range_count_int(v[0][0], v[1][0], v[2][0]);
    }
    if (!n.ok()) return ctx.error(n.status().message());
    ctx.set_output(0, dt, SymShape{Dim::known(*n)});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
