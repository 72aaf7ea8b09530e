// Resize/Upsample output geometry, shared by the schema (output shapes) and the reference
// kernel (coordinates), so that inference and the kernel agree exactly.
//
// The arithmetic follows the ONNX reference implementation: a scale given as a float32 input
// enters as that float32 value, the un-floored output length `scale * in` is a float32 product
// when scales are given and a float64 one when sizes are, and output sizes from scales are
// floor(double(scale) * in).
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "ir/attribute.h"
#include "ir/ops/infer_util.h"

namespace kiln::indexing {

struct ResizeAxis {
  bool active = false;  // resized (listed in axes); inactive axes are copied
  int64_t in = -1;      // -1 when unknown (inference only)
  int64_t out = -1;
  double scale = 1.0;
  double out_width = 0;  // scale * in, before flooring
  double roi_start = 0, roi_end = 1;
};

struct ResizeInfo {
  std::string mode;   // nearest, linear, cubic
  std::string coord;  // coordinate_transformation_mode
  std::string nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0;
  std::vector<ResizeAxis> axes;  // one per input dim
};

// Which input holds roi, scales and sizes (-1: none) for this op and opset.
struct ResizeInputSlots {
  int roi = -1, scales = -1, sizes = -1;
};
inline ResizeInputSlots resize_input_slots(const std::string& op_type, int opset) {
  if (op_type == "Upsample") return opset < 9 ? ResizeInputSlots{} : ResizeInputSlots{-1, 1, -1};
  if (opset < 11) return ResizeInputSlots{-1, 1, -1};
  return ResizeInputSlots{1, 2, 3};
}

// Reads the attributes (mode names, defaults for the opset). Errors are plain messages.
inline Result<ResizeInfo> resize_attributes(const Attributes& a, const std::string& op_type, int opset) {
  ResizeInfo info;
  info.mode = a.get_string("mode", "nearest");
  if (info.mode == "bilinear") info.mode = "linear";  // Upsample-1's spelling
  const bool legacy = op_type == "Upsample" || opset < 11;
  if (info.mode != "nearest" && info.mode != "linear" && !(info.mode == "cubic" && !legacy)) {
    return invalid_argument(fmt::format("mode '{}' is not supported", info.mode));
  }
  if (legacy) {
    // Upsample and Resize-10 map output x to x / scale; nearest takes the floor when upsampling
    // and the ceiling when downsampling (onnxruntime's "simple" mode, which the opset-10
    // backend tests were generated with).
    info.coord = "asymmetric";
    info.nearest_mode = "simple";
    return info;
  }
  info.coord = a.get_string("coordinate_transformation_mode", "half_pixel");
  static const char* kCoords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                  "tf_crop_and_resize", "half_pixel_symmetric", "tf_half_pixel_for_nn"};
  bool ok = false;
  for (const char* c : kCoords) ok = ok || info.coord == c;
  if (!ok) return invalid_argument(fmt::format("coordinate_transformation_mode '{}' is not supported", info.coord));
  info.nearest_mode = a.get_string("nearest_mode", "round_prefer_floor");
  if (info.nearest_mode != "round_prefer_floor" && info.nearest_mode != "round_prefer_ceil" &&
      info.nearest_mode != "floor" && info.nearest_mode != "ceil") {
    return invalid_argument(fmt::format("nearest_mode '{}' is not supported", info.nearest_mode));
  }
  info.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
  info.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  info.extrapolation = a.get_float("extrapolation_value", 0.0f);
  info.antialias = opset >= 18 && a.get_int("antialias", 0) != 0;
  if (info.antialias && info.mode == "nearest") return invalid_argument("antialias is not supported with mode 'nearest'");
  return info;
}

// Fills info.axes from the input dims (-1 for unknown) and the scales / sizes / roi values.
// `scales` and `sizes` are empty when not given; exactly one of them must be non-empty.
inline Status resize_geometry(ResizeInfo& info, const Attributes& a, int opset, const std::string& op_type,
                              const std::vector<int64_t>& in, const std::vector<float>& scales,
                              const std::vector<int64_t>& sizes, const std::vector<double>& roi) {
  const int64_t r = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes;
  if (op_type == "Resize" && opset >= 18 && a.has("axes")) {
    for (int64_t ax : a.get_ints("axes")) {
      if (ax < -r || ax >= r) return invalid_argument(fmt::format("axes value {} is out of range for rank {}", ax, r));
      const int64_t n = ax < 0 ? ax + r : ax;
      for (int64_t prev : axes) {
        if (prev == n) return invalid_argument(fmt::format("axes has {} twice", ax));
      }
      axes.push_back(n);
    }
  } else {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  const size_t n = axes.size();
  if (scales.empty() == sizes.empty()) {
    return invalid_argument("exactly one of 'scales' and 'sizes' must be given (non-empty)");
  }
  if (!scales.empty() && scales.size() != n) {
    return invalid_argument(fmt::format("'scales' has {} values, expected {}", scales.size(), n));
  }
  if (!sizes.empty() && sizes.size() != n) {
    return invalid_argument(fmt::format("'sizes' has {} values, expected {}", sizes.size(), n));
  }
  if (!roi.empty() && roi.size() != 2 * n) {
    return invalid_argument(fmt::format("'roi' has {} values, expected {}", roi.size(), 2 * n));
  }
  info.axes.assign(static_cast<size_t>(r), ResizeAxis{});
  for (int64_t i = 0; i < r; ++i) {
    ResizeAxis& ax = info.axes[static_cast<size_t>(i)];
    ax.in = ax.out = in[static_cast<size_t>(i)];
    ax.out_width = static_cast<double>(ax.in);
  }
  for (size_t k = 0; k < n; ++k) {
    ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
    ax.active = true;
    if (!roi.empty()) {
      ax.roi_start = roi[k];
      ax.roi_end = roi[n + k];
    }
  }
  if (!scales.empty()) {
    for (size_t k = 0; k < n; ++k) {
      ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
      const float s = scales[k];
      if (!(s > 0) || !std::isfinite(s)) return invalid_argument(fmt::format("scales[{}] = {} must be positive", k, s));
      ax.scale = s;
      if (ax.in >= 0) {
        ax.out = static_cast<int64_t>(std::floor(static_cast<double>(s) * static_cast<double>(ax.in)));
        ax.out_width = static_cast<double>(s * static_cast<float>(ax.in));
      } else {
        ax.out = -1;
      }
    }
    return ok_status();
  }
  for (size_t k = 0; k < n; ++k) {
    if (sizes[k] < 0) return invalid_argument(fmt::format("sizes[{}] = {} must be >= 0", k, sizes[k]));
  }
  const std::string policy = opset >= 18 ? a.get_string("keep_aspect_ratio_policy", "stretch") : "stretch";
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") {
    return invalid_argument(fmt::format("keep_aspect_ratio_policy '{}' is not supported", policy));
  }
  for (size_t k = 0; k < n; ++k) {
    ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
    if (ax.in < 0) {
      ax.out = policy == "stretch" ? sizes[k] : -1;
      continue;
    }
    if (ax.in == 0 && sizes[k] != 0) {
      return invalid_argument(fmt::format("cannot resize empty dim {} to {}", axes[k], sizes[k]));
    }
    ax.scale = ax.in == 0 ? 1.0 : static_cast<double>(sizes[k]) / static_cast<double>(ax.in);
    ax.out = sizes[k];
  }
  if (policy != "stretch") {
    std::optional<double> pick;
    for (size_t k = 0; k < n; ++k) {
      const ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
      if (ax.in < 0) return ok_status();  // unknown until the dims are
      if (!pick || (policy == "not_larger" ? ax.scale < *pick : ax.scale > *pick)) pick = ax.scale;
    }
    for (size_t k = 0; k < n && pick; ++k) {
      ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
      ax.scale = *pick;
      ax.out = static_cast<int64_t>(*pick * static_cast<double>(ax.in) + 0.5);
    }
  }
  for (size_t k = 0; k < n; ++k) {
    ResizeAxis& ax = info.axes[static_cast<size_t>(axes[k])];
    ax.out_width = ax.scale * static_cast<double>(ax.in);
  }
  return ok_status();
}

}  // namespace kiln::indexing
