// Small inference helpers shared by the indexing family's schemas.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln::indexing {

// Input i must be int32 or int64 (or not yet typed).
inline Status check_index_dtype(const InferenceContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return ok_status();
  const DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined || t == DataType::kInt32 || t == DataType::kInt64) return ok_status();
  return ctx.error(fmt::format("input {} '{}' has dtype {}, expected int32 or int64", i, name, dtype_name(t)));
}

// Input i must be a float type (or not yet typed).
inline Status check_float_dtype(const InferenceContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return ok_status();
  const DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined || dtype_is_float(t)) return ok_status();
  return ctx.error(fmt::format("input {} '{}' has dtype {}, expected a float type", i, name, dtype_name(t)));
}

// Input i's rank must be `rank` when known.
inline Status check_rank(const InferenceContext& ctx, size_t i, const char* name, size_t rank) {
  if (!ctx.has_input(i) || !ctx.input_shape(i)) return ok_status();
  if (ctx.input_shape(i)->size() != rank) {
    return ctx.error(fmt::format("input {} '{}' has rank {}, expected {}", i, name, ctx.input_shape(i)->size(), rank));
  }
  return ok_status();
}

// The scatter ops' reduction attribute.
inline Status check_reduction(const InferenceContext& ctx) {
  const std::string red = ctx.attrs().get_string("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min") {
    return ctx.error(fmt::format("reduction '{}' is not one of none, add, mul, max, min", red));
  }
  return ok_status();
}

}  // namespace kiln::indexing
