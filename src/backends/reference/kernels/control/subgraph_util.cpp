#include "backends/reference/kernels/control/subgraph_util.h"

#include <cstring>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status output_copy(KernelContext& ctx, size_t i, const Tensor& t) {
  if (!ctx.node().output(i)) return ok_status();
  KILN_ASSIGN_OR_RETURN(Tensor * o, ctx.allocate_output(i, t.dtype(), t.shape()));
  if (t.nbytes() > 0) std::memcpy(o->data(), t.data(), t.nbytes());
  return ok_status();
}

Result<Tensor> take_slice(const Tensor& t, int64_t axis, int64_t pos) {
  Dims d = t.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= d[static_cast<size_t>(i)];
  for (int64_t i = axis + 1; i < t.rank(); ++i) inner *= d[static_cast<size_t>(i)];
  const int64_t len = d[static_cast<size_t>(axis)];
  d.erase(d.begin() + axis);
  KILN_ASSIGN_OR_RETURN(Tensor s, Tensor::allocate(t.dtype(), d));
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.data());
  auto* dst = static_cast<uint8_t*>(s.data());
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + static_cast<size_t>(o * inner) * es, src + static_cast<size_t>((o * len + pos) * inner) * es,
                static_cast<size_t>(inner) * es);
  }
  return s;
}

Status output_stack(KernelContext& ctx, size_t i, const std::vector<Tensor>& parts, int64_t axis, bool reverse,
                    DataType elem_dtype, const Dims& elem_dims, int64_t count) {
  if (!ctx.node().output(i)) return ok_status();
  const DataType dt = parts.empty() ? elem_dtype : parts[0].dtype();
  const Dims ed = parts.empty() ? elem_dims : parts[0].shape();
  for (size_t p = 1; p < parts.size(); ++p) {
    if (parts[p].dtype() != dt || parts[p].shape() != ed) {
      return ctx.error(fmt::format("scan output {} changes from {} to {} between iterations", i, parts[0].describe(),
                                   parts[p].describe()));
    }
  }
  const int64_t r = static_cast<int64_t>(ed.size()) + 1;
  if (axis < -r || axis >= r) return ctx.error(fmt::format("scan output axis {} is out of range for rank {}", axis, r));
  if (axis < 0) axis += r;
  Dims od = ed;
  od.insert(od.begin() + axis, count);
  KILN_ASSIGN_OR_RETURN(Tensor * o, ctx.allocate_output(i, dt, od));
  if (o->nbytes() > 0) std::memset(o->data(), 0, o->nbytes());
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= ed[static_cast<size_t>(a)];
  for (int64_t a = axis; a < static_cast<int64_t>(ed.size()); ++a) inner *= ed[static_cast<size_t>(a)];
  const size_t es = dtype_size(dt);
  auto* dst = static_cast<uint8_t*>(o->data());
  const int64_t np = static_cast<int64_t>(parts.size());
  for (int64_t p = 0; p < np; ++p) {
    const int64_t pos = reverse ? np - 1 - p : p;
    const auto* src = static_cast<const uint8_t*>(parts[static_cast<size_t>(p)].data());
    for (int64_t q = 0; q < outer; ++q) {
      std::memcpy(dst + static_cast<size_t>((q * count + pos) * inner) * es, src + static_cast<size_t>(q * inner) * es,
                  static_cast<size_t>(inner) * es);
    }
  }
  return ok_status();
}

void declared_output(const Graph& body, size_t j, DataType& dtype, Dims& dims) {
  dtype = DataType::kFloat32;
  dims.clear();
  if (j >= body.outputs().size()) return;
  const Value* v = body.outputs()[j];
  if (v->dtype != DataType::kUndefined && dtype_is_supported(v->dtype)) dtype = v->dtype;
  if (v->shape) {
    for (const Dim& d : *v->shape) dims.push_back(d.is_known() ? d.value : 0);
  }
}

Result<bool> truth_of(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1) return ctx.error(fmt::format("{} is {}, expected one element", what, t.describe()));
  if (t.dtype() == DataType::kBool) return *t.data_as<bool>();
  auto v = read_doubles(t);
  if (!v.ok()) return ctx.error(fmt::format("{}: {}", what, v.status().message()));
  return (*v)[0] != 0.0;
}

}  // namespace kiln
