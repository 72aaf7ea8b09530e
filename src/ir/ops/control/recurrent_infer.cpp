#include "ir/ops/control/recurrent_infer.h"

#include <string>
#include <vector>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

bool known_activation(const std::string& name) {
  static const char* const kNames[] = {"relu",      "tanh",       "sigmoid",   "affine",
                                       "leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid",
                                       "elu",       "softsign",   "softplus"};
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  for (const char* n : kNames) {
    if (lower == n) return true;
  }
  return false;
}

// Checks that a known dim equals `want` (when both are known).
Status check_dim(const InferenceContext& ctx, size_t input, const char* name, size_t axis, const Dim& want) {
  const MaybeShape& s = ctx.input_shape(input);
  if (!s || axis >= s->size() || !want.is_known() || !(*s)[axis].is_known()) return ok_status();
  if ((*s)[axis].value != want.value) {
    return ctx.error(fmt::format("input {} '{}' has shape {}, expected dim {} to be {}", input, name,
                                 shape_to_string(s), axis, want.value));
  }
  return ok_status();
}

Status check_rank(const InferenceContext& ctx, size_t input, const char* name, size_t rank) {
  const MaybeShape& s = ctx.input_shape(input);
  if (ctx.has_input(input) && s && s->size() != rank) {
    return ctx.error(fmt::format("input {} '{}' has rank {}, expected {}", input, name, s->size(), rank));
  }
  return ok_status();
}

Dim dim_of(const InferenceContext& ctx, size_t input, size_t axis) {
  const MaybeShape& s = ctx.input_shape(input);
  if (!ctx.has_input(input) || !s || axis >= s->size()) return Dim::unknown();
  return (*s)[axis];
}

}  // namespace

Status infer_recurrent(InferenceContext& ctx, int64_t gates, size_t activations) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const bool lstm = gates == 4;
  const DataType t = ctx.input_dtype(0);
  if (t != DataType::kUndefined && !dtype_is_float(t)) {
    return ctx.error(fmt::format("input 0 'X' has dtype {}, expected a float type", dtype_name(t)));
  }
  for (size_t i : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{6}, size_t{7}}) {
    const DataType ti = ctx.input_dtype(i);
    if (ctx.has_input(i) && ti != DataType::kUndefined && t != DataType::kUndefined && ti != t) {
      return ctx.error(fmt::format("input {} has dtype {}, expected {} like X", i, dtype_name(ti), dtype_name(t)));
    }
  }
  if (ctx.has_input(4) && ctx.input_dtype(4) != DataType::kUndefined && ctx.input_dtype(4) != DataType::kInt32) {
    return ctx.error(fmt::format("input 4 'sequence_lens' has dtype {}, expected int32",
                                 dtype_name(ctx.input_dtype(4))));
  }

  const std::string direction = ctx.attrs().get_string("direction", "forward");
  int64_t nd = 1;
  if (direction == "bidirectional") {
    nd = 2;
  } else if (direction != "forward" && direction != "reverse") {
    return ctx.error(fmt::format("attribute 'direction' is '{}', expected forward, reverse or bidirectional",
                                 direction));
  }
  const int64_t layout = ctx.attrs().get_int("layout", 0);
  if (layout != 0 && layout != 1) return ctx.error(fmt::format("attribute 'layout' is {}, expected 0 or 1", layout));
  if (ctx.attrs().has("activations")) {
    const Attribute* a = ctx.attrs().find("activations");
    const size_t n = a->strings.size();
    if (n != activations * static_cast<size_t>(nd) && n != activations) {
      return ctx.error(fmt::format("attribute 'activations' has {} names, expected {}", n,
                                   activations * static_cast<size_t>(nd)));
    }
    for (const std::string& s : a->strings) {
      if (!known_activation(s)) return ctx.error(fmt::format("unknown activation function '{}'", s));
    }
  }
  if (ctx.attrs().get_float("clip", 1.0f) <= 0.0f) {
    return ctx.error(fmt::format("attribute 'clip' is {}, expected a positive value", ctx.attrs().get_float("clip", 0)));
  }
  if (lstm) {
    const int64_t input_forget = ctx.attrs().get_int("input_forget", 0);
    if (input_forget != 0 && input_forget != 1) {
      return ctx.error(fmt::format("attribute 'input_forget' is {}, expected 0 or 1", input_forget));
    }
  }

  KILN_RETURN_IF_ERROR(check_rank(ctx, 0, "X", 3));
  KILN_RETURN_IF_ERROR(check_rank(ctx, 1, "W", 3));
  KILN_RETURN_IF_ERROR(check_rank(ctx, 2, "R", 3));
  KILN_RETURN_IF_ERROR(check_rank(ctx, 3, "B", 2));
  KILN_RETURN_IF_ERROR(check_rank(ctx, 4, "sequence_lens", 1));
  KILN_RETURN_IF_ERROR(check_rank(ctx, 5, "initial_h", 3));
  if (lstm) {
    KILN_RETURN_IF_ERROR(check_rank(ctx, 6, "initial_c", 3));
    KILN_RETURN_IF_ERROR(check_rank(ctx, 7, "P", 2));
  }

  Dim hidden = Dim::unknown();
  if (ctx.attrs().has("hidden_size")) {
    const int64_t h = ctx.attrs().get_int("hidden_size", 0);
    if (h <= 0) return ctx.error(fmt::format("attribute 'hidden_size' is {}, expected a positive value", h));
    hidden = Dim::known(h);
  } else {
    hidden = dim_of(ctx, 2, 2);
    if (!hidden.is_known()) {
      const Dim w1 = dim_of(ctx, 1, 1);
      if (w1.is_known()) hidden = Dim::known(w1.value / gates);
    }
  }
  const Dim seq = dim_of(ctx, 0, layout == 0 ? 0 : 1);
  const Dim batch = dim_of(ctx, 0, layout == 0 ? 1 : 0);
  const Dim input_size = dim_of(ctx, 0, 2);
  const Dim ndim = Dim::known(nd);
  const Dim gh = hidden.is_known() ? Dim::known(gates * hidden.value) : Dim::unknown();

  KILN_RETURN_IF_ERROR(check_dim(ctx, 1, "W", 0, ndim));
  KILN_RETURN_IF_ERROR(check_dim(ctx, 1, "W", 1, gh));
  KILN_RETURN_IF_ERROR(check_dim(ctx, 1, "W", 2, input_size));
  KILN_RETURN_IF_ERROR(check_dim(ctx, 2, "R", 0, ndim));
  KILN_RETURN_IF_ERROR(check_dim(ctx, 2, "R", 1, gh));
  KILN_RETURN_IF_ERROR(check_dim(ctx, 2, "R", 2, hidden));
  if (ctx.has_input(3)) {
    KILN_RETURN_IF_ERROR(check_dim(ctx, 3, "B", 0, ndim));
    KILN_RETURN_IF_ERROR(check_dim(ctx, 3, "B", 1, gh.is_known() ? Dim::known(2 * gh.value) : gh));
  }
  if (ctx.has_input(4)) KILN_RETURN_IF_ERROR(check_dim(ctx, 4, "sequence_lens", 0, batch));
  for (size_t i : lstm ? std::vector<size_t>{5, 6} : std::vector<size_t>{5}) {
    if (!ctx.has_input(i)) continue;
    const char* name = i == 5 ? "initial_h" : "initial_c";
    KILN_RETURN_IF_ERROR(check_dim(ctx, i, name, layout == 0 ? 0 : 1, ndim));
    KILN_RETURN_IF_ERROR(check_dim(ctx, i, name, layout == 0 ? 1 : 0, batch));
    KILN_RETURN_IF_ERROR(check_dim(ctx, i, name, 2, hidden));
  }
  if (lstm && ctx.has_input(7)) {
    KILN_RETURN_IF_ERROR(check_dim(ctx, 7, "P", 0, ndim));
    KILN_RETURN_IF_ERROR(check_dim(ctx, 7, "P", 1, hidden.is_known() ? Dim::known(3 * hidden.value) : hidden));
  }

  const SymShape y = layout == 0 ? SymShape{seq, ndim, batch, hidden} : SymShape{batch, seq, ndim, hidden};
  const SymShape yh = layout == 0 ? SymShape{ndim, batch, hidden} : SymShape{batch, ndim, hidden};
  ctx.set_output(0, t, y);
  ctx.set_output(1, t, yh);
  if (lstm) ctx.set_output(2, t, yh);
  return ok_status();
}

}  // namespace kiln
