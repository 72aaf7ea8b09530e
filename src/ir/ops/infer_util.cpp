#include "ir/ops/infer_util.h"

#include <algorithm>

#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

Result<SymShape> broadcast_shapes(const SymShape& a, const SymShape& b) {
  const size_t r = std::max(a.size(), b.size());
  SymShape out(r);
  for (size_t i = 0; i < r; ++i) {
    const Dim da = i < r - a.size() ? Dim::known(1) : a[i - (r - a.size())];
    const Dim db = i < r - b.size() ? Dim::known(1) : b[i - (r - b.size())];
    if (da.is_known() && db.is_known()) {
      if (da.value != db.value && da.value != 1 && db.value != 1) {
        return invalid_argument(fmt::format("shapes {} and {} do not broadcast (dim {}: {} vs {})",
                                            shape_to_string(a), shape_to_string(b), i, da.value, db.value));
      }
      out[i] = Dim::known(da.value == 1 ? db.value : da.value);
    } else if (da.is_known() && da.value == 1) {
      out[i] = db;
    } else if (db.is_known() && db.value == 1) {
      out[i] = da;
    } else if (!da.is_known() && !db.is_known() && da.symbol == db.symbol) {
      out[i] = da;
    } else if (da.is_known()) {
      out[i] = da;  // the symbol must equal it (or be 1, which would still give da)
    } else if (db.is_known()) {
      out[i] = db;
    } else {
      out[i] = Dim::unknown();
    }
  }
  return out;
}

Result<MaybeShape> broadcast_inputs(const InferenceContext& ctx, size_t first, size_t count) {
  SymShape acc;
  const size_t end = count == SIZE_MAX ? ctx.num_inputs() : std::min(ctx.num_inputs(), first + count);
  for (size_t i = first; i < end; ++i) {
    if (!ctx.has_input(i)) continue;
    const MaybeShape& s = ctx.input_shape(i);
    if (!s) return MaybeShape{};
    auto r = broadcast_shapes(acc, *s);
    if (!r.ok()) return ctx.error(r.status().message());
    acc = std::move(r).value();
  }
  return MaybeShape{acc};
}

Result<int64_t> normalize_axis(const InferenceContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  }
  return axis < 0 ? axis + rank : axis;
}

Status same_as_input(InferenceContext& ctx, size_t out, size_t in) {
  ctx.set_output(out, ctx.input_dtype(in), ctx.input_shape(in));
  return ok_status();
}

Result<std::vector<int64_t>> read_int64s(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(t.numel(), 0)));
  if (t.dtype() == DataType::kInt64) {
    std::copy_n(t.data_as<int64_t>(), v.size(), v.begin());
  } else if (t.dtype() == DataType::kInt32) {
    std::copy_n(t.data_as<int32_t>(), v.size(), v.begin());
  } else {
    return invalid_argument(fmt::format("expected an int32/int64 tensor, got {}", t.describe()));
  }
  return v;
}

Result<std::vector<double>> read_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(std::max<int64_t>(t.numel(), 0)));
  Status s = dispatch_all(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<compute_t<T>>(p[i]));
    return ok_status();
  });
  if (!s.ok()) return s;
  return v;
}

Dim mul_dims(const Dim& a, const Dim& b) {
  if (a.is_known() && b.is_known()) return Dim::known(a.value * b.value);
  if (a.is_known() && a.value == 1) return b;
  if (b.is_known() && b.value == 1) return a;
  return Dim::unknown();
}

Status check_inputs_defined(const InferenceContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DataType t = ctx.input_dtype(i);
    if (t != DataType::kUndefined && !dtype_is_supported(t)) {
      return ctx.unsupported_error(fmt::format("input {} has dtype {}", i, dtype_name(t)));
    }
  }
  return ok_status();
}

}  // namespace kiln
