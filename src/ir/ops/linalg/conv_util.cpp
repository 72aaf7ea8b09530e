#include "ir/ops/linalg/conv_util.h"

#include <algorithm>

#include "fmt/format.h"
#include "fmt/ranges.h"

namespace kiln {
namespace {

// Python-style floor division (the ONNX formulas for ConvTranspose pads are written with it).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Status check_len(const char* name, const std::vector<int64_t>& v, size_t expected) {
  if (v.size() != expected) {
    return invalid_argument(
        fmt::format("attribute '{}' has {} values, expected {}", name, v.size(), expected));
  }
  return ok_status();
}

}  // namespace

Result<ConvParams> read_conv_params(const Attributes& attrs, size_t nspatial,
                                    const std::vector<int64_t>& w_kernel, bool transpose) {
  ConvParams p;
  const std::string ap = attrs.get_string("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty()) {
    p.auto_pad = AutoPad::kNotSet;
  } else if (ap == "SAME_UPPER") {
    p.auto_pad = AutoPad::kSameUpper;
  } else if (ap == "SAME_LOWER") {
    p.auto_pad = AutoPad::kSameLower;
  } else if (ap == "VALID") {
    p.auto_pad = AutoPad::kValid;
  } else {
    return invalid_argument(
        fmt::format("attribute 'auto_pad' is '{}', expected NOTSET, "
                    "SAME_UPPER, SAME_LOWER or VALID",
                    ap));
  }
  p.group = attrs.get_int("group", 1);
  if (p.group < 1)
    return invalid_argument(fmt::format("attribute 'group' is {}, expected >= 1", p.group));

  p.kernel = w_kernel;
  if (attrs.has("kernel_shape")) {
    const std::vector<int64_t> ks = attrs.get_ints("kernel_shape");
    KILN_RETURN_IF_ERROR(check_len("kernel_shape", ks, nspatial));
    for (size_t i = 0; i < nspatial; ++i) {
      if (ks[i] < 1)
        return invalid_argument(fmt::format("attribute 'kernel_shape' has {} at {}", ks[i], i));
      if (w_kernel[i] >= 0 && w_kernel[i] != ks[i]) {
        return invalid_argument(
            fmt::format("attribute 'kernel_shape' is [{}] but W's spatial dims are [{}]",
                        fmt::join(ks, ","), fmt::join(w_kernel, ",")));
      }
      p.kernel[i] = ks[i];
    }
  }
  for (size_t i = 0; i < nspatial; ++i) {
    if (p.kernel[i] == 0)
      return invalid_argument(fmt::format("W has an empty kernel (spatial dim {} is 0)", i));
  }
  p.strides = attrs.get_ints("strides", std::vector<int64_t>(nspatial, 1));
  KILN_RETURN_IF_ERROR(check_len("strides", p.strides, nspatial));
  p.dilations = attrs.get_ints("dilations", std::vector<int64_t>(nspatial, 1));
  KILN_RETURN_IF_ERROR(check_len("dilations", p.dilations, nspatial));
  for (size_t i = 0; i < nspatial; ++i) {
    if (p.strides[i] < 1)
      return invalid_argument(fmt::format("attribute 'strides' has {} at {}", p.strides[i], i));
    if (p.dilations[i] < 1) {
      return invalid_argument(fmt::format("attribute 'dilations' has {} at {}", p.dilations[i], i));
    }
  }
  p.pads = std::vector<int64_t>(2 * nspatial, 0);
  // Pads only count with NOTSET (the SAME modes compute theirs; VALID has none).
  if (attrs.has("pads") && p.auto_pad == AutoPad::kNotSet) {
    p.pads = attrs.get_ints("pads");
    KILN_RETURN_IF_ERROR(check_len("pads", p.pads, 2 * nspatial));
    for (size_t i = 0; i < p.pads.size(); ++i) {
      if (p.pads[i] < 0)
        return invalid_argument(fmt::format("attribute 'pads' has {} at {}", p.pads[i], i));
    }
  }
  if (transpose) {
    p.output_padding = attrs.get_ints("output_padding", std::vector<int64_t>(nspatial, 0));
    KILN_RETURN_IF_ERROR(check_len("output_padding", p.output_padding, nspatial));
    for (size_t i = 0; i < nspatial; ++i) {
      if (p.output_padding[i] < 0) {
        return invalid_argument(
            fmt::format("attribute 'output_padding' has {} at {}", p.output_padding[i], i));
      }
    }
    if (attrs.has("output_shape")) {
      std::vector<int64_t> os = attrs.get_ints("output_shape");
      // Some exporters write the full output shape (N, C, spatial...): keep the spatial part.
      if (os.size() == nspatial + 2) os.erase(os.begin(), os.begin() + 2);
      KILN_RETURN_IF_ERROR(check_len("output_shape", os, nspatial));
      for (size_t i = 0; i < nspatial; ++i) {
        if (os[i] < 0)
          return invalid_argument(fmt::format("attribute 'output_shape' has {} at {}", os[i], i));
      }
      p.output_shape = std::move(os);
    }
  }
  return p;
}

Result<ConvDim> conv_output_dim(const ConvParams& p, size_t i, int64_t in) {
  const int64_t k = p.kernel[i];
  const int64_t s = p.strides[i];
  const int64_t dk = (k - 1) * p.dilations[i] + 1;  // the dilated kernel's extent
  ConvDim d;
  switch (p.auto_pad) {
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      d.out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (d.out - 1) * s + dk - in);
      d.pad_begin = p.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      return d;
    }
    case AutoPad::kValid:
    case AutoPad::kNotSet: {
      const int64_t pb = p.pads[i];
      const int64_t pe = p.pads[i + p.kernel.size()];
      const int64_t span = in + pb + pe - dk;
      if (span < 0) {
        return invalid_argument(fmt::format(
            "spatial dim {}: the dilated kernel ({}) is larger than the padded input ({})", i, dk,
            in + pb + pe));
      }
      d.out = span / s + 1;
      d.pad_begin = pb;
      return d;
    }
  }
  return d;
}

Result<ConvDim> conv_transpose_output_dim(const ConvParams& p, size_t i, int64_t in) {
  const int64_t s = p.strides[i];
  const int64_t dk = (p.kernel[i] - 1) * p.dilations[i] + 1;
  const int64_t natural = s * (in - 1) + p.output_padding[i] + dk;  // the output size with no pads
  ConvDim d;
  const bool same = p.auto_pad == AutoPad::kSameUpper || p.auto_pad == AutoPad::kSameLower;
  if (!p.output_shape.empty() || same) {
    d.out = !p.output_shape.empty() ? p.output_shape[i] : in * s;
    const int64_t total = natural - d.out;
    d.pad_begin =
        p.auto_pad == AutoPad::kSameUpper ? floor_div(total, 2) : total - floor_div(total, 2);
    return d;
  }
  const int64_t pb = p.pads[i];
  const int64_t pe = p.pads[i + p.kernel.size()];
  d.out = natural - pb - pe;
  d.pad_begin = pb;
  if (d.out < 0) {
    return invalid_argument(
        fmt::format("spatial dim {}: pads {}+{} exceed the output size {}", i, pb, pe, natural));
  }
  return d;
}

}  // namespace kiln
