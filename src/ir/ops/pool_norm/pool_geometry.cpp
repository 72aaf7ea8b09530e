#include "ir/ops/pool_norm/pool_geometry.h"

#include "fmt/format.h"
#include "fmt/ranges.h"

namespace kiln {

namespace {

Result<std::vector<int64_t>> read_per_axis(const Attributes& attrs, const char* name, size_t n, size_t mult,
                                           int64_t def, int64_t min_value) {
  std::vector<int64_t> v = attrs.get_ints(name, std::vector<int64_t>(n * mult, def));
  if (v.size() != n * mult) {
    return invalid_argument(fmt::format("attribute '{}' has {} values, expected {}", name, v.size(), n * mult));
  }
  // The upper bound keeps window arithmetic far from overflow.
  constexpr int64_t kMax = int64_t{1} << 31;
  for (int64_t x : v) {
    if (x < min_value || x > kMax) {
      return invalid_argument(fmt::format("attribute '{}' = [{}] has a value outside [{}, {}]", name, fmt::join(v, ","), min_value, kMax));
    }
  }
  return v;
}

}  // namespace

Result<PoolGeometry> pool_geometry(const Attributes& attrs, const std::vector<int64_t>& in_spatial) {
  const size_t n = in_spatial.size();
  PoolGeometry g;
  if (!attrs.has("kernel_shape")) return invalid_argument("attribute 'kernel_shape' is required");
  KILN_ASSIGN_OR_RETURN(g.kernel, read_per_axis(attrs, "kernel_shape", n, 1, 1, 1));
  KILN_ASSIGN_OR_RETURN(g.strides, read_per_axis(attrs, "strides", n, 1, 1, 1));
  KILN_ASSIGN_OR_RETURN(g.dilations, read_per_axis(attrs, "dilations", n, 1, 1, 1));
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  // With auto_pad the spec's ceil-mode formulas give the same sizes as floor mode.
  const bool ceil_mode = attrs.get_int("ceil_mode", 0) != 0 && auto_pad == "NOTSET";
  std::vector<int64_t> pads(2 * n, 0);
  if (auto_pad == "NOTSET") {
    KILN_ASSIGN_OR_RETURN(pads, read_per_axis(attrs, "pads", n, 2, 0, 0));
  } else if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID") {
    return invalid_argument(fmt::format("attribute 'auto_pad' is '{}', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad));
  }
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  g.pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  g.out.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = in_spatial[i];
    const int64_t s = g.strides[i];
    const int64_t eff_k = (g.kernel[i] - 1) * g.dilations[i] + 1;  // window extent with dilation
    if (in < 0) {
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") g.pad_begin[i] = g.pad_end[i] = -1;
      continue;
    }
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t o = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (o - 1) * s + eff_k - in);
      // SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning.
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out[i] = o;
      continue;
    }
    const int64_t span = in + g.pad_begin[i] + g.pad_end[i] - eff_k;
    if (span < 0) {
      return invalid_argument(fmt::format("spatial axis {}: window of {} (kernel {}, dilation {}) is larger than the padded input {}",
                                          i, eff_k, g.kernel[i], g.dilations[i], in + g.pad_begin[i] + g.pad_end[i]));
    }
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // In ceil mode a last window that would start inside the end padding is dropped.
    if (ceil_mode && (o - 1) * s >= in + g.pad_begin[i]) --o;
    g.out[i] = o;
  }
  return g;
}

double attr_p(const Attributes& attrs, double def) {
  const Attribute* a = attrs.find("p");
  if (a == nullptr) return def;
  if (a->kind == Attribute::Kind::kFloat) return a->f;
  if (a->kind == Attribute::Kind::kInt) return static_cast<double>(a->i);
  return def;
}

}  // namespace kiln
