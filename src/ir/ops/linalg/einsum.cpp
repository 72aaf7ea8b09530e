// Einsum: a sum of products over labelled axes (transposes, diagonals, contractions, reductions),
// with "..." for broadcast leading dims and implicit or explicit output.
#include <map>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/einsum_equation.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {
namespace {

// Merges two sightings of one label's dim: equal, or one of them 1 (broadcast across operands).
Result<Dim> merge_label_dim(const Dim& a, const Dim& b, int label, bool same_operand) {
  if (a.is_known() && b.is_known()) {
    if (a.value == b.value) return a;
    if (!same_operand && (a.value == 1 || b.value == 1))
      return Dim::known(a.value == 1 ? b.value : a.value);
    return invalid_argument(
        fmt::format("label '{}' has sizes {} and {}", char(label), a.value, b.value));
  }
  if (a.is_known() && a.value != 1) return a;
  if (b.is_known() && b.value != 1) return b;
  return a.is_known() ? b : a;
}

Status infer_einsum(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_ASSIGN_OR_RETURN(std::string eqs, ctx.attrs().require_string("equation"));
  auto parsed = parse_einsum(eqs, ctx.num_inputs());
  if (!parsed.ok()) return ctx.error(parsed.status().message());
  const EinsumEquation& eq = *parsed;
  DataType dt = DataType::kUndefined;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, i, "Inputs",
        {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16,
         DataType::kInt8, DataType::kInt16, DataType::kInt32, DataType::kInt64, DataType::kUInt8,
         DataType::kUInt16, DataType::kUInt32, DataType::kUInt64}));
    const DataType t = ctx.input_dtype(i);
    if (t != DataType::kUndefined) {
      if (dt != DataType::kUndefined && t != dt) return ctx.error("inputs have different dtypes");
      dt = t;
    }
  }
  std::map<int, Dim> label_dims;
  SymShape ell;
  bool ell_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const MaybeShape& s = ctx.input_shape(i);
    const auto& labels = eq.inputs[i];
    size_t nlab = 0;
    bool has_ell = false;
    for (int l : labels) {
      if (l == EinsumEquation::kEllipsis) {
        has_ell = true;
      } else {
        ++nlab;
      }
    }
    if (!s) {
      if (has_ell) ell_known = false;
      continue;
    }
    if (s->size() < nlab || (!has_ell && s->size() != nlab)) {
      return ctx.error(
          fmt::format("input {} has rank {} but its term has {} labels", i, s->size(), nlab));
    }
    const size_t ne = s->size() - nlab;
    std::map<int, Dim> own;
    size_t d = 0;
    for (int l : labels) {
      if (l == EinsumEquation::kEllipsis) {
        SymShape part(s->begin() + static_cast<ptrdiff_t>(d),
                      s->begin() + static_cast<ptrdiff_t>(d + ne));
        auto b = broadcast_shapes(ell, part);
        if (!b.ok())
          return ctx.error(
              fmt::format("the '...' dims do not broadcast: {}", b.status().message()));
        ell = std::move(b).value();
        d += ne;
        continue;
      }
      const Dim& dim = (*s)[d++];
      if (auto it = own.find(l); it != own.end()) {
        auto m = merge_label_dim(it->second, dim, l, true);
        if (!m.ok()) return ctx.error(fmt::format("input {}: {}", i, m.status().message()));
      }
      own[l] = dim;
      if (auto it = label_dims.find(l); it != label_dims.end()) {
        auto m = merge_label_dim(it->second, dim, l, false);
        if (!m.ok()) return ctx.error(m.status().message());
        it->second = *m;
      } else {
        label_dims[l] = dim;
      }
    }
  }
  bool out_has_ell = false;
  for (int l : eq.output) out_has_ell |= l == EinsumEquation::kEllipsis;
  if (out_has_ell && !ell_known) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  SymShape out;
  for (int l : eq.output) {
    if (l == EinsumEquation::kEllipsis) {
      out.insert(out.end(), ell.begin(), ell.end());
    } else {
      auto it = label_dims.find(l);
      out.push_back(it != label_dims.end() ? it->second : Dim::unknown());
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_einsum(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Einsum";
  s.min_inputs = 1;
  s.max_inputs = OpSchema::kUnbounded;
  s.infer = infer_einsum;
  r.add(std::move(s));
}

}  // namespace kiln
