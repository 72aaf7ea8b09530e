#include "ir/ops/binary/binary_infer.h"

#include <algorithm>

#include "fmt/format.h"
#include "ir/ops/binary/legacy_broadcast.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

bool in_set(DataType t, DtypeSet set) {
  switch (set) {
    case DtypeSet::kNumeric:
      return dtype_is_float(t) || dtype_is_int(t);
    case DtypeSet::kFloat:
      return dtype_is_float(t);
    case DtypeSet::kInt:
      return dtype_is_int(t);
    case DtypeSet::kUnsigned:
      return dtype_is_unsigned_int(t);
    case DtypeSet::kBool:
      return t == DataType::kBool;
    case DtypeSet::kNumericOrBool:
      return t == DataType::kBool || dtype_is_float(t) || dtype_is_int(t);
    case DtypeSet::kPowBase:
      return dtype_is_float(t) || t == DataType::kInt32 || t == DataType::kInt64;
    case DtypeSet::kAny:
      return true;
  }
  return false;
}

const char* set_name(DtypeSet set) {
  switch (set) {
    case DtypeSet::kNumeric:
      return "a numeric type";
    case DtypeSet::kFloat:
      return "a float type";
    case DtypeSet::kInt:
      return "an integer type";
    case DtypeSet::kUnsigned:
      return "an unsigned integer type";
    case DtypeSet::kBool:
      return "bool";
    case DtypeSet::kNumericOrBool:
      return "a numeric type or bool";
    case DtypeSet::kPowBase:
      return "a float type, int32 or int64";
    case DtypeSet::kAny:
      return "any type";
  }
  return "?";
}

}  // namespace

Status check_input_dtype(const InferenceContext& ctx, size_t i, DtypeSet set) {
  if (!ctx.has_input(i)) return ok_status();
  const DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined) return ok_status();
  // Strings, complex, float8, int4: valid ONNX that kiln tensors cannot hold.
  if (!dtype_is_supported(t)) {
    return ctx.unsupported_error(
        fmt::format("input {} has dtype {}, which kiln does not support", i, dtype_name(t)));
  }
  if (!in_set(t, set)) {
    return ctx.error(
        fmt::format("input {} has dtype {}, expected {}", i, dtype_name(t), set_name(set)));
  }
  return ok_status();
}

Status check_same_dtype(const InferenceContext& ctx, size_t first, size_t end) {
  end = std::min(end, ctx.num_inputs());
  DataType seen = DataType::kUndefined;
  size_t seen_at = 0;
  for (size_t i = first; i < end; ++i) {
    const DataType t = ctx.input_dtype(i);
    if (t == DataType::kUndefined) continue;
    if (seen == DataType::kUndefined) {
      seen = t;
      seen_at = i;
    } else if (t != seen) {
      return ctx.error(
          fmt::format("input {} has dtype {} but input {} has dtype {}; they must match", i,
                      dtype_name(t), seen_at, dtype_name(seen)));
    }
  }
  return ok_status();
}

DataType first_known_dtype(const InferenceContext& ctx, size_t first, size_t end) {
  end = std::min(end, ctx.num_inputs());
  for (size_t i = first; i < end; ++i) {
    if (ctx.input_dtype(i) != DataType::kUndefined) return ctx.input_dtype(i);
  }
  return DataType::kUndefined;
}

Result<MaybeShape> infer_broadcast(const InferenceContext& ctx, size_t first, size_t end) {
  end = std::min(end, ctx.num_inputs());
  if (first == 0 && end == 2 && uses_legacy_axis(ctx.node())) {
    const MaybeShape& a = ctx.input_shape(0);
    const MaybeShape& b = ctx.input_shape(1);
    if (!a || !b) return MaybeShape{};
    auto aligned = legacy_align(a->size(), *b, ctx.attrs().get_int("axis", 0), Dim::known(1));
    if (!aligned.ok()) return ctx.error(aligned.status().message());
    auto r = broadcast_shapes(*a, *aligned);
    if (!r.ok()) return ctx.error(r.status().message());
    return MaybeShape{std::move(r).value()};
  }
  return broadcast_inputs(ctx, first, end - first);
}

OpSchema make_broadcast_schema(const char* op_type, size_t min_inputs, size_t max_inputs,
                               DtypeSet set, DataType out) {
  OpSchema s;
  s.op_type = op_type;
  s.min_inputs = min_inputs;
  s.max_inputs = max_inputs;
  s.infer = [set, out](InferenceContext& ctx) -> Status {
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
      KILN_RETURN_IF_ERROR(check_input_dtype(ctx, i, set));
    }
    KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, ctx.num_inputs()));
    KILN_ASSIGN_OR_RETURN(MaybeShape shape, infer_broadcast(ctx));
    const DataType dt =
        out != DataType::kUndefined ? out : first_known_dtype(ctx, 0, ctx.num_inputs());
    ctx.set_output(0, dt, std::move(shape));
    return ok_status();
  };
  return s;
}

}  // namespace kiln
