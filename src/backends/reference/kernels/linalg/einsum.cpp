// Einsum: every operand gets a stride per "axis" (a letter, or one of the broadcast "..." dims);
// repeated letters within an operand add their strides (a diagonal walk) and size-1 dims
// broadcast with stride 0. Then one odometer walks output axes then summed axes.
#include <map>

#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"
#include "ir/ops/linalg/einsum_equation.h"

namespace kiln {

Status ref_einsum(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(std::string eqs, ctx.attrs().require_string("equation"));
  const size_t nin = ctx.num_inputs();
  auto parsed = parse_einsum(eqs, nin);
  if (!parsed.ok()) return ctx.error(parsed.status().message());
  const EinsumEquation& eq = *parsed;
  std::vector<const Tensor*> ins(nin);
  for (size_t i = 0; i < nin; ++i) {
    ins[i] = ctx.input(i);
    if (!ins[i]) return ctx.error(fmt::format("input {} is missing", i));
    if (ins[i]->dtype() != ins[0]->dtype()) return ctx.error("inputs have different dtypes");
  }
  // Axis ids: one per letter, then the ellipsis dims (right-aligned across operands).
  std::vector<size_t> ell_rank(nin, 0);
  size_t E = 0;
  for (size_t i = 0; i < nin; ++i) {
    size_t nlab = 0;
    bool has_ell = false;
    for (int l : eq.inputs[i]) {
      if (l == EinsumEquation::kEllipsis) {
        has_ell = true;
      } else {
        ++nlab;
      }
    }
    const size_t rank = ins[i]->shape().size();
    if (rank < nlab || (!has_ell && rank != nlab)) {
      return ctx.error(
          fmt::format("input {} has rank {} but its term has {} labels", i, rank, nlab));
    }
    ell_rank[i] = rank - nlab;
    E = std::max(E, ell_rank[i]);
  }
  std::map<int, size_t> letter_axis;
  for (const auto& in : eq.inputs) {
    for (int l : in) {
      if (l != EinsumEquation::kEllipsis && !letter_axis.count(l)) letter_axis.emplace(l, 0);
    }
  }
  size_t naxes = 0;
  for (auto& [l, id] : letter_axis) id = naxes++;
  const size_t ell0 = naxes;
  naxes += E;
  // Each operand's dims as axis ids.
  std::vector<std::vector<size_t>> dim_axis(nin);
  for (size_t i = 0; i < nin; ++i) {
    for (int l : eq.inputs[i]) {
      if (l == EinsumEquation::kEllipsis) {
        for (size_t e = 0; e < ell_rank[i]; ++e) dim_axis[i].push_back(ell0 + E - ell_rank[i] + e);
      } else {
        dim_axis[i].push_back(letter_axis[l]);
      }
    }
  }
  // Axis sizes: equal, or 1 broadcasting across operands; equal within one operand.
  std::vector<int64_t> size(naxes, 1);
  std::vector<bool> seen(naxes, false);
  for (size_t i = 0; i < nin; ++i) {
    std::map<size_t, int64_t> own;
    for (size_t d = 0; d < dim_axis[i].size(); ++d) {
      const size_t a = dim_axis[i][d];
      const int64_t v = ins[i]->shape()[d];
      if (auto it = own.find(a); it != own.end() && it->second != v) {
        return ctx.error(
            fmt::format("input {} repeats a label over dims of sizes {} and {}", i, it->second, v));
      }
      own[a] = v;
      if (!seen[a] || size[a] == 1) {
        size[a] = v;
        seen[a] = true;
      } else if (v != size[a] && v != 1) {
        return ctx.error(fmt::format("input {} has size {} for an axis of size {}", i, v, size[a]));
      }
    }
  }
  // Output axes, then the summed ones.
  std::vector<size_t> order;
  std::vector<bool> in_out(naxes, false);
  for (int l : eq.output) {
    if (l == EinsumEquation::kEllipsis) {
      for (size_t e = 0; e < E; ++e) order.push_back(ell0 + e);
    } else {
      order.push_back(letter_axis[l]);
    }
  }
  for (size_t a : order) in_out[a] = true;
  Dims out_dims;
  for (size_t a : order) out_dims.push_back(size[a]);
  const size_t nout_axes = order.size();
  for (size_t a = 0; a < naxes; ++a) {
    if (!in_out[a]) order.push_back(a);
  }
  int64_t R = 1;
  for (size_t j = nout_axes; j < order.size(); ++j) R *= size[order[j]];

  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, ins[0]->dtype(), out_dims));
  const int64_t nout = y->numel();
  return dispatch_numeric(ins[0]->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    T* yp = y->data_as<T>();
    if (nout == 0) return ok_status();
    if (R == 0) {
      for (int64_t i = 0; i < nout; ++i) yp[i] = from_acc<T>(A(0));
      return ok_status();
    }
    // stride[k][j]: operand k's element step along combined axis order[j].
    std::vector<std::vector<int64_t>> stride(nin, std::vector<int64_t>(order.size(), 0));
    std::vector<const T*> data(nin);
    for (size_t k = 0; k < nin; ++k) {
      data[k] = ins[k]->data_as<T>();
      const std::vector<int64_t> cs = contiguous_strides(ins[k]->shape());
      for (size_t d = 0; d < dim_axis[k].size(); ++d) {
        const size_t a = dim_axis[k][d];
        if (ins[k]->shape()[d] == 1 && size[a] != 1) continue;  // broadcast
        for (size_t j = 0; j < order.size(); ++j) {
          if (order[j] == a) stride[k][j] += cs[d];
        }
      }
    }
    Dims all;
    for (size_t a : order) all.push_back(size[a]);
    std::vector<int64_t> idx(all.size(), 0), off(nin, 0);
    const int64_t total = nout * R;
    A sum = A(0);
    for (int64_t lin = 0; lin < total; ++lin) {
      A p = to_acc<T>(data[0][off[0]]);
      for (size_t k = 1; k < nin; ++k) p *= to_acc<T>(data[k][off[k]]);
      sum += p;
      if ((lin + 1) % R == 0) {
        yp[lin / R] = from_acc<T>(sum);
        sum = A(0);
      }
      for (size_t j = all.size(); j-- > 0;) {
        if (++idx[j] < all[j]) {
          for (size_t k = 0; k < nin; ++k) off[k] += stride[k][j];
          break;
        }
        for (size_t k = 0; k < nin; ++k) off[k] -= stride[k][j] * (all[j] - 1);
        idx[j] = 0;
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
