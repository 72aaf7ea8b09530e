// Resize and Upsample. Separable: each output coordinate on each axis maps to a list of
// (input index, weight) taps, computed exactly as the ONNX reference does (edge-padded
// neighbours, ties to the lower index, exclude_outside renormalization); the output is the
// nested weighted sum over the axes, in float64, rounded once to the output dtype.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/indexing/resize_util.h"
#include "ir/ops/infer_util.h"

namespace kiln {
namespace {

struct Taps {
  bool extrapolate = false;
  std::vector<std::pair<int64_t, double>> taps;  // input index (clamped), weight
};

std::vector<double> resize_coeffs(const indexing::ResizeInfo& info, double ratio, double scale) {
  if (info.mode == "nearest") {
    if (ratio == 1.0) return {0.0, 1.0};
    const std::string& m = info.nearest_mode;
    if (m == "round_prefer_ceil") return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
    if (m == "floor" || (m == "simple" && scale >= 1)) return {1.0, 0.0};
    if (m == "simple") return {0.0, 1.0};
    if (m == "ceil") return {0.0, 1.0};
    return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};  // round_prefer_floor
  }
  const double a = info.cubic_a;
  std::vector<double> c;
  if (info.mode == "linear") {
    if (!info.antialias) return {1.0 - ratio, ratio};
    const double s = std::min(scale, 1.0);
    const int64_t start = static_cast<int64_t>(std::floor(-1.0 / s)) + 1;
    const int64_t footprint = 2 - 2 * start;
    for (int64_t i = 0; i < footprint; ++i) {
      const double arg = (static_cast<double>(start + i) - ratio) * s;
      c.push_back(std::clamp(1.0 - std::fabs(arg), 0.0, 1.0));
    }
  } else if (!info.antialias) {
    const double r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
    return {((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a, ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
            ((a + 2) * q - (a + 3)) * q * q + 1, ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a};
  } else {
    const double s = std::min(scale, 1.0);
    const int64_t i_start = static_cast<int64_t>(std::floor(-2.0 / s)) + 1;
    const int64_t i_end = 2 - i_start;
    for (int64_t i = i_start; i < i_end; ++i) {
      const double x = std::fabs(s * (static_cast<double>(i) - ratio));
      const double x2 = x * x, x3 = x * x2;
      if (x <= 1) {
        c.push_back((a + 2) * x3 - (a + 3) * x2 + 1);
      } else if (x < 2) {
        c.push_back(a * x3 - 5 * a * x2 + 8 * a * x - 4 * a);
      } else {
        c.push_back(0.0);
      }
    }
  }
  double sum = 0;
  for (double v : c) sum += v;
  if (sum != 0) {
    for (double& v : c) v /= sum;
  }
  return c;
}

// The taps for output coordinate x on one axis.
Taps axis_taps(const indexing::ResizeInfo& info, const indexing::ResizeAxis& ax, int64_t x) {
  Taps t;
  const double xd = static_cast<double>(x);
  const double w_in = static_cast<double>(ax.in);
  const double ow = ax.out_width;
  const double s = ax.scale;
  const std::string& m = info.coord;
  double x_ori = 0;
  if (m == "align_corners") {
    x_ori = ow == 1 ? 0.0 : xd * (w_in - 1) / (ow - 1);
  } else if (m == "asymmetric") {
    x_ori = xd / s;
  } else if (m == "tf_crop_and_resize") {
    // roi arithmetic in float32, as the reference does with its float32 roi.
    const float rs = static_cast<float>(ax.roi_start), re = static_cast<float>(ax.roi_end);
    const double span = static_cast<double>(re - rs);
    x_ori = ow == 1 ? span * (w_in - 1) / 2 : xd * span * (w_in - 1) / (ow - 1);
    x_ori += static_cast<double>(rs * static_cast<float>(ax.in - 1));
    if (x_ori < 0 || x_ori > w_in - 1) {
      t.extrapolate = true;
      return t;
    }
  } else if (m == "pytorch_half_pixel") {
    x_ori = ow == 1 ? -0.5 : (xd + 0.5) / s - 0.5;
  } else if (m == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(ax.out) / ow;
    const double center = w_in / 2;
    const double offset = center * (1 - adjustment);
    x_ori = offset + (xd + 0.5) / s - 0.5;
  } else if (m == "tf_half_pixel_for_nn") {
    x_ori = (xd + 0.5) / s;
  } else {  // half_pixel
    x_ori = (xd + 0.5) / s - 0.5;
  }
  const double fl = std::floor(x_ori);
  const double ratio = x_ori == fl ? 1.0 : x_ori - fl;
  std::vector<double> c = resize_coeffs(info, ratio, s);
  const int64_t n = static_cast<int64_t>(c.size());
  const int64_t pad = (n + 1) / 2;
  const int64_t len = ax.in + 2 * pad;
  const double xp = x_ori + static_cast<double>(pad);
  // The n integers of [0, len) nearest to xp, ties to the smaller one.
  const int64_t center = static_cast<int64_t>(std::floor(xp));
  std::vector<int64_t> cand;
  for (int64_t i = std::max<int64_t>(0, center - n - 1); i <= std::min(len - 1, center + n + 1); ++i) cand.push_back(i);
  std::sort(cand.begin(), cand.end(), [&](int64_t a, int64_t b) {
    const double da = std::fabs(xp - static_cast<double>(a)), db = std::fabs(xp - static_cast<double>(b));
    return da != db ? da < db : a < b;
  });
  if (static_cast<int64_t>(cand.size()) > n) cand.resize(static_cast<size_t>(n));
  std::sort(cand.begin(), cand.end());
  if (info.exclude_outside) {
    double sum = 0;
    for (size_t i = 0; i < cand.size(); ++i) {
      const int64_t idx = cand[i] - pad;
      if (idx < 0 || idx >= ax.in) c[i] = 0;
      sum += c[i];
    }
    if (sum != 0) {
      for (double& v : c) v /= sum;
    }
  }
  for (size_t i = 0; i < cand.size(); ++i) {
    if (c[i] == 0) continue;
    t.taps.emplace_back(std::clamp<int64_t>(cand[i] - pad, 0, ax.in - 1), c[i]);
  }
  return t;
}

}  // namespace

Status ref_resize(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const std::string& op = ctx.node().op_type;
  const int opset = ctx.node().opset;
  auto info_r = indexing::resize_attributes(ctx.attrs(), op, opset);
  if (!info_r.ok()) return ctx.error(info_r.status().message());
  indexing::ResizeInfo info = std::move(info_r).value();
  const indexing::ResizeInputSlots slots = indexing::resize_input_slots(op, opset);
  auto present = [&](int slot) {
    return slot >= 0 && ctx.input(static_cast<size_t>(slot)) && ctx.input(static_cast<size_t>(slot))->numel() > 0;
  };
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<double> roi;
  if (slots.scales < 0) {
    scales = ctx.attrs().get_floats("scales");
  } else if (present(slots.scales)) {
    auto v = read_doubles(*ctx.input(static_cast<size_t>(slots.scales)));
    if (!v.ok()) return ctx.error(fmt::format("input 'scales': {}", v.status().message()));
    for (double d : *v) scales.push_back(static_cast<float>(d));
  }
  if (present(slots.sizes)) {
    KILN_ASSIGN_OR_RETURN(sizes, indexing::read_indices(ctx, static_cast<size_t>(slots.sizes), "sizes"));
  }
  if (info.coord == "tf_crop_and_resize" && present(slots.roi)) {
    auto v = read_doubles(*ctx.input(static_cast<size_t>(slots.roi)));
    if (!v.ok()) return ctx.error(fmt::format("input 'roi': {}", v.status().message()));
    roi = std::move(v).value();
  }
  if (!scales.empty() && !sizes.empty()) return ctx.error("only one of 'scales' and 'sizes' may be given");
  Status st = indexing::resize_geometry(info, ctx.attrs(), opset, op, x.shape(), scales, sizes, roi);
  if (!st.ok()) return ctx.error(st.message());
  const size_t r = x.shape().size();
  Dims od(r);
  for (size_t i = 0; i < r; ++i) od[i] = info.axes[i].out;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), od));
  if (y->numel() == 0) return ok_status();
  std::vector<std::vector<Taps>> plans(r);
  for (size_t d = 0; d < r; ++d) {
    const indexing::ResizeAxis& ax = info.axes[d];
    plans[d].resize(static_cast<size_t>(ax.out));
    for (int64_t o = 0; o < ax.out; ++o) {
      if (ax.active) {
        plans[d][static_cast<size_t>(o)] = axis_taps(info, ax, o);
      } else {
        plans[d][static_cast<size_t>(o)].taps = {{o, 1.0}};
      }
    }
  }
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    std::vector<const Taps*> cur(r);
    // Inner axes first, like the reference's nested 1-D interpolation.
    auto eval = [&](auto&& self, size_t d, int64_t off) -> double {
      if (d == r) return static_cast<double>(static_cast<compute_t<T>>(in[off]));
      double acc = 0;
      for (const auto& [idx, w] : cur[d]->taps) acc += w * self(self, d + 1, off + idx * strides[d]);
      return acc;
    };
    for_each_index(od, [&](int64_t lin, const std::vector<int64_t>& pos) {
      bool extrap = false;
      for (size_t d = 0; d < r; ++d) {
        cur[d] = &plans[d][static_cast<size_t>(pos[d])];
        extrap = extrap || cur[d]->extrapolate;
      }
      out[lin] = indexing::from_double<T>(extrap ? info.extrapolation : eval(eval, 0, 0));
    });
    return ok_status();
  });
}

}  // namespace kiln
