#include "backends/reference/kernels/binary/binary_util.h"

#include <algorithm>

#include "fmt/format.h"
#include "ir/ops/binary/legacy_broadcast.h"

namespace kiln {

Result<BroadcastPlan> plan_broadcast(const KernelContext& ctx, size_t first, size_t count) {
  BroadcastPlan p;
  for (size_t i = first; i < first + count; ++i) {
    const Tensor* t = ctx.input(i);
    if (t == nullptr) return ctx.error(fmt::format("input {} is missing", i));
    p.ins.push_back(t->shape());
  }
  if (first == 0 && count == 2 && uses_legacy_axis(ctx.node())) {
    auto aligned =
        legacy_align(p.ins[0].size(), p.ins[1], ctx.attrs().get_int("axis", 0), int64_t{1});
    if (!aligned.ok()) return ctx.error(aligned.status().message());
    p.ins[1] = std::move(aligned).value();
  }
  size_t rank = 0;
  for (const Dims& d : p.ins) rank = std::max(rank, d.size());
  p.out.assign(rank, 1);
  for (size_t k = 0; k < p.ins.size(); ++k) {
    const Dims& d = p.ins[k];
    const size_t off = rank - d.size();
    for (size_t j = 0; j < d.size(); ++j) {
      int64_t& o = p.out[off + j];
      if (d[j] == o || d[j] == 1) continue;
      if (o != 1) {
        return ctx.error(fmt::format(
            "input {} of shape {} does not broadcast with the other inputs (dim {}: {} vs {})",
            first + k, dims_to_string(ctx.input(first + k)->shape()), off + j, d[j], o));
      }
      o = d[j];
    }
  }
  return p;
}

Status with_node(const KernelContext& ctx, const Status& s) {
  const std::string who = ctx.node().describe();
  if (s.ok() || s.message().rfind(who, 0) == 0) return s;
  return s.with_context(who);
}

Status check_same_dtype(const KernelContext& ctx, size_t first, size_t end) {
  end = std::min(end, ctx.num_inputs());
  for (size_t i = first + 1; i < end; ++i) {
    if (ctx.input(i) && ctx.input(first) && ctx.input(i)->dtype() != ctx.input(first)->dtype()) {
      return ctx.error(fmt::format(
          "input {} has dtype {} but input {} has dtype {}; they must match", i,
          dtype_name(ctx.input(i)->dtype()), first, dtype_name(ctx.input(first)->dtype())));
    }
  }
  return ok_status();
}

}  // namespace kiln
