// Shape computations shared by the tensor family's inference and reference kernels (see
// tensor_ops.h), plus its inference helpers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Result<IntsOperand> ints_operand(const InferenceContext& ctx, size_t i, const char* name) {
  IntsOperand op;
  if (!ctx.has_input(i)) return op;
  op.present = true;
  const DataType t = ctx.input_dtype(i);
  if (t != DataType::kInt64 && t != DataType::kInt32 && t != DataType::kUndefined) {
    return ctx.error(fmt::format("input {} '{}' must be int64, got {}", i, name, dtype_name(t)));
  }
  if (const Tensor* v = ctx.input_value(i)) {
    auto r = read_int64s(*v);
    if (!r.ok()) return ctx.error(fmt::format("input {} '{}': {}", i, name, r.status().message()));
    op.known = true;
    op.values = std::move(r).value();
    op.length = static_cast<int64_t>(op.values.size());
    return op;
  }
  const MaybeShape& s = ctx.input_shape(i);
  if (s && s->size() == 1 && (*s)[0].is_known()) op.length = (*s)[0].value;
  if (s && s->empty()) op.length = 1;
  op.elems = ctx.input_elems(i);
  return op;
}

Result<SymShape> shape_from_elems(const InferenceContext& ctx, const ShapeElems& elems, size_t input) {
  SymShape s;
  for (const ShapeElem& e : elems) {
    if (e.number && *e.number < 0) return ctx.error(fmt::format("input {} has a negative dim {}", input, *e.number));
    s.push_back(e.number ? Dim::known(*e.number) : e.dim);
  }
  return s;
}

Result<SymShape> reshape_output_shape(const SymShape& in, const std::vector<int64_t>& shape, bool allowzero) {
  ShapeElems target;
  target.reserve(shape.size());
  for (int64_t v : shape) target.push_back(ShapeElem::literal(v));
  return reshape_output_shape(in, target, allowzero);
}

Result<SymShape> reshape_output_shape(const SymShape& in, const ShapeElems& shape, bool allowzero) {
  SymShape out;
  out.reserve(shape.size());
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!shape[i].number) {
      // A dim read from a shape: its size at run time. A named dim is taken as that size; an
      // unnamed one could even be 0 (copy the input dim), so nothing is decided.
      if (!shape[i].dim.is_known() && shape[i].dim.symbol.empty()) return SymShape(shape.size(), Dim::unknown());
      out.push_back(shape[i].dim);
      continue;
    }
    const int64_t v = *shape[i].number;
    if (v == -1) {
      if (infer_at >= 0) return invalid_argument("shape has more than one -1");
      infer_at = static_cast<int64_t>(i);
      out.push_back(Dim::unknown());
    } else if (v == 0 && !allowzero) {
      if (i >= in.size()) {
        return invalid_argument(
            fmt::format("shape[{}] is 0 (copy the input dim) but the input has rank {}", i, in.size()));
      }
      out.push_back(in[i]);
    } else if (v < 0) {
      return invalid_argument(fmt::format("shape[{}] is {}; dims must be >= -1", i, v));
    } else {
      has_zero |= v == 0;
      out.push_back(Dim::known(v));
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    return invalid_argument("shape has both 0 and -1 while allowzero=1");
  }
  // Products of both sides as a known factor times a multiset of symbols; an unnamed unknown
  // dim makes a side's product unknowable.
  struct Product {
    int64_t known = 1;
    std::map<std::string, int> symbols;
    bool opaque = false;
    bool overflow = false;
  };
  auto product_of = [](const SymShape& s, int64_t skip) {
    Product p;
    for (size_t i = 0; i < s.size(); ++i) {
      if (static_cast<int64_t>(i) == skip) continue;
      const Dim& d = s[i];
      if (d.is_known()) {
        if (d.value != 0 && p.known > std::numeric_limits<int64_t>::max() / d.value) p.overflow = true;
        else p.known *= d.value;
      } else if (d.symbol.empty()) {
        p.opaque = true;
      } else {
        ++p.symbols[d.symbol];
      }
    }
    return p;
  };
  Product pin = product_of(in, -1);
  Product pout = product_of(out, infer_at);
  if (pin.overflow || pout.overflow) return invalid_argument("element count overflows");
  if (pin.opaque || pout.opaque) return out;
  // Cancel common symbols.
  for (auto it = pout.symbols.begin(); it != pout.symbols.end();) {
    auto jt = pin.symbols.find(it->first);
    if (jt == pin.symbols.end()) {
      ++it;
      continue;
    }
    const int c = std::min(it->second, jt->second);
    it->second -= c;
    jt->second -= c;
    if (jt->second == 0) pin.symbols.erase(jt);
    it = it->second == 0 ? pout.symbols.erase(it) : std::next(it);
  }
  // One symbol left on the input side and none on the output's, the known factors equal: the
  // -1 is that symbol (a flattened [batch, 128, 768] reshaped to [-1, 128, 12, 64] keeps its
  // batch, which the fusions compare by name).
  if (infer_at >= 0 && pout.symbols.empty() && pin.symbols.size() == 1 && pin.symbols.begin()->second == 1 &&
      pin.known == pout.known && pout.known != 0) {
    out[static_cast<size_t>(infer_at)] = Dim::sym(pin.symbols.begin()->first);
    return out;
  }
  if (!pin.symbols.empty() || !pout.symbols.empty()) return out;  // not decidable
  if (infer_at >= 0) {
    if (pout.known == 0) {
      if (pin.known != 0) return invalid_argument("cannot infer the -1 dim: other dims multiply to 0");
      return invalid_argument("cannot infer the -1 dim of an empty tensor when other dims are 0");
    }
    if (pin.known % pout.known != 0) {
      return invalid_argument(fmt::format("cannot reshape {} elements into {} with a -1 dim", pin.known,
                                          shape_to_string(out)));
    }
    out[static_cast<size_t>(infer_at)] = Dim::known(pin.known / pout.known);
  } else if (pin.known != pout.known) {
    return invalid_argument(fmt::format("cannot reshape {} ({} elements) into {} ({} elements)",
                                        shape_to_string(in), pin.known, shape_to_string(out), pout.known));
  }
  return out;
}

Result<std::vector<int64_t>> transpose_perm(const std::vector<int64_t>& perm, size_t rank) {
  std::vector<int64_t> p = perm;
  if (p.empty()) {
    for (size_t i = 0; i < rank; ++i) p.push_back(static_cast<int64_t>(rank - 1 - i));
    return p;
  }
  if (p.size() != rank) {
    return invalid_argument(fmt::format("perm has {} entries, expected {} (the input rank)", p.size(), rank));
  }
  std::vector<bool> seen(rank, false);
  for (int64_t& a : p) {
    const int64_t r = static_cast<int64_t>(rank);
    if (a < -r || a >= r) return invalid_argument(fmt::format("perm entry {} is out of range for rank {}", a, r));
    if (a < 0) a += r;
    if (seen[static_cast<size_t>(a)]) return invalid_argument(fmt::format("perm repeats axis {}", a));
    seen[static_cast<size_t>(a)] = true;
  }
  return p;
}

SliceAxis slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  SliceAxis s;
  s.step = step;
  // Negative indices count from the end; then clamp as the spec says (different for step < 0).
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  s.start = s.count > 0 ? start : 0;
  return s;
}

Result<SliceSpec> make_slice_spec(std::vector<int64_t> starts, std::vector<int64_t> ends,
                                  std::optional<std::vector<int64_t>> axes,
                                  std::optional<std::vector<int64_t>> steps, int64_t rank) {
  if (starts.size() != ends.size()) {
    return invalid_argument(fmt::format("starts has {} values but ends has {}", starts.size(), ends.size()));
  }
  SliceSpec s;
  s.starts = std::move(starts);
  s.ends = std::move(ends);
  const size_t n = s.starts.size();
  if (axes) {
    if (axes->size() != n) {
      return invalid_argument(fmt::format("axes has {} values, expected {} (as many as starts)", axes->size(), n));
    }
    s.axes = *axes;
  } else {
    if (static_cast<int64_t>(n) > rank) {
      return invalid_argument(fmt::format("starts has {} values but the input has rank {}", n, rank));
    }
    for (size_t i = 0; i < n; ++i) s.axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t& a : s.axes) {
    if (a < -rank || a >= rank) return invalid_argument(fmt::format("axis {} is out of range for rank {}", a, rank));
    if (a < 0) a += rank;
    if (seen[static_cast<size_t>(a)]) return invalid_argument(fmt::format("axis {} appears twice", a));
    seen[static_cast<size_t>(a)] = true;
  }
  if (steps) {
    if (steps->size() != n) {
      return invalid_argument(fmt::format("steps has {} values, expected {}", steps->size(), n));
    }
    s.steps = *steps;
    for (int64_t st : s.steps) {
      if (st == 0) return invalid_argument("steps must not be 0");
    }
  } else {
    s.steps.assign(n, 1);
  }
  return s;
}

Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split,
                                         size_t num_outputs, bool uneven_ok) {
  if (split) {
    if (split->size() != num_outputs) {
      return invalid_argument(fmt::format("split has {} values but the node has {} outputs", split->size(), num_outputs));
    }
    int64_t sum = 0;
    for (int64_t v : *split) {
      if (v < 0) return invalid_argument(fmt::format("split value {} is negative", v));
      sum += v;
    }
    if (sum != dim) {
      return invalid_argument(fmt::format("split values sum to {} but the axis has size {}", sum, dim));
    }
    return *split;
  }
  if (num_outputs == 0) return invalid_argument("no outputs to split into");
  const int64_t n = static_cast<int64_t>(num_outputs);
  if (dim % n == 0) return std::vector<int64_t>(num_outputs, dim / n);
  if (!uneven_ok) {
    return invalid_argument(fmt::format("axis of size {} does not split evenly into {} outputs", dim, n));
  }
  const int64_t chunk = (dim + n - 1) / n;
  std::vector<int64_t> sizes(num_outputs, chunk);
  sizes.back() = dim - chunk * (n - 1);
  if (sizes.back() < 0) {
    return invalid_argument(fmt::format("axis of size {} cannot be split into {} chunks of {}", dim, n, chunk));
  }
  return sizes;
}

Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return invalid_argument(fmt::format("axis {} is out of range for rank {}", a, rank));
    out.push_back(a < 0 ? a + rank : a);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) return invalid_argument("axes contain a duplicate");
  return out;
}

Result<std::vector<std::pair<int64_t, int64_t>>> pad_widths(const std::vector<int64_t>& pads,
                                                           const std::optional<std::vector<int64_t>>& axes,
                                                           int64_t rank) {
  std::vector<int64_t> ax;
  if (axes) {
    for (int64_t a : *axes) {
      if (a < -rank || a >= rank) return invalid_argument(fmt::format("axis {} is out of range for rank {}", a, rank));
      ax.push_back(a < 0 ? a + rank : a);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) ax.push_back(i);
  }
  if (pads.size() != 2 * ax.size()) {
    return invalid_argument(fmt::format("'pads' has {} values, expected {}", pads.size(), 2 * ax.size()));
  }
  std::vector<std::pair<int64_t, int64_t>> w(static_cast<size_t>(rank), {0, 0});
  for (size_t i = 0; i < ax.size(); ++i) w[static_cast<size_t>(ax[i])] = {pads[i], pads[ax.size() + i]};
  return w;
}

std::pair<int64_t, int64_t> shape_range(int64_t start, int64_t end, int64_t rank) {
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  return {start, std::max(start, end)};
}

Result<int64_t> range_count_double(double start, double limit, double delta, bool in_float32) {
  if (delta == 0) return invalid_argument("delta must not be 0");
  // The count is computed in the inputs' own precision, as numpy's arange (the reference) does.
  const double n = in_float32 ? std::ceil(static_cast<double>((static_cast<float>(limit) - static_cast<float>(start)) /
                                                              static_cast<float>(delta)))
                              : std::ceil((limit - start) / delta);
  if (!(n > 0)) return int64_t{0};
  if (n > 1e12) return invalid_argument(fmt::format("range has too many elements ({})", n));
  return static_cast<int64_t>(n);
}

Result<int64_t> range_count_int(int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0) return invalid_argument("delta must not be 0");
  int64_t span = 0;
  if (__builtin_sub_overflow(limit, start, &span)) return invalid_argument("range has too many elements");
  if ((span > 0) != (delta > 0) || span == 0) return int64_t{0};
  if (delta == -1 && span == std::numeric_limits<int64_t>::min()) {
    return invalid_argument("range has too many elements");
  }
  const int64_t n = span / delta + (span % delta != 0 ? 1 : 0);  // ceil: the quotient is positive
  if (n > (int64_t{1} << 40)) return invalid_argument("range has too many elements");
  return n;
}

}  // namespace kiln
