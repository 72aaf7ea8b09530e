// RoiAlign, following the ONNX reference (itself ORT's): bilinear samples on a regular grid
// inside each bin, averaged (avg) or max-reduced per weighted corner (max). Coordinates are
// computed in the input's compute type, as the reference does in float32.
#include <algorithm>
#include <cmath>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

Status ref_roi_align(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& rois = *ctx.input(1);
  if (x.rank() != 4) return ctx.error(fmt::format("input 0 'X' has rank {}, expected 4", x.rank()));
  if (rois.rank() != 2 || rois.dim(1) != 4) {
    return ctx.error(fmt::format("input 1 'rois' has shape {}, expected [num_rois, 4]", dims_to_string(rois.shape())));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bidx, indexing::read_indices(ctx, 2, "batch_indices"));
  const int64_t nr = rois.dim(0);
  if (static_cast<int64_t>(bidx.size()) != nr) {
    return ctx.error(fmt::format("input 2 'batch_indices' has {} values, expected {}", bidx.size(), nr));
  }
  for (int64_t b : bidx) {
    if (b < 0 || b >= x.dim(0)) return ctx.error(fmt::format("batch index {} is out of range [0, {})", b, x.dim(0)));
  }
  if (rois.dtype() != x.dtype()) return ctx.error("input 1 'rois' must have the dtype of X");
  const std::string mode = ctx.attrs().get_string("mode", "avg");
  if (mode != "avg" && mode != "max") return ctx.error(fmt::format("mode '{}' is not avg or max", mode));
  const std::string ctm = ctx.attrs().get_string("coordinate_transformation_mode",
                                                 ctx.node().opset >= 16 ? "half_pixel" : "output_half_pixel");
  const bool half_pixel = ctm == "half_pixel";
  const int64_t ph_n = ctx.attrs().get_int("output_height", 1);
  const int64_t pw_n = ctx.attrs().get_int("output_width", 1);
  const int64_t sampling = ctx.attrs().get_int("sampling_ratio", 0);
  const float spatial_scale = ctx.attrs().get_float("spatial_scale", 1.0f);
  if (ph_n < 1 || pw_n < 1) return ctx.error(fmt::format("output size {}x{} must be positive", ph_n, pw_n));
  if (sampling < 0) return ctx.error("sampling_ratio must be >= 0");
  const int64_t chans = x.dim(1), height = x.dim(2), width = x.dim(3);
  if ((height < 1 || width < 1) && nr > 0 && chans > 0) {
    return ctx.error(fmt::format("input 0 'X' has an empty image ({}x{})", height, width));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), {nr, chans, ph_n, pw_n}));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    const T* rp = rois.data_as<T>();
    T* out = y->data_as<T>();
    struct Sample {
      int64_t pos[4];
      C w[4];
    };
    for (int64_t r = 0; r < nr; ++r) {
      const C off = half_pixel ? C(0.5) : C(0);
      const C sx = static_cast<C>(rp[r * 4 + 0]) * static_cast<C>(spatial_scale) - off;
      const C sy = static_cast<C>(rp[r * 4 + 1]) * static_cast<C>(spatial_scale) - off;
      const C ex = static_cast<C>(rp[r * 4 + 2]) * static_cast<C>(spatial_scale) - off;
      const C ey = static_cast<C>(rp[r * 4 + 3]) * static_cast<C>(spatial_scale) - off;
      C rw = ex - sx, rh = ey - sy;
      if (!half_pixel) {
        rw = std::max(rw, C(1));
        rh = std::max(rh, C(1));
      }
      const C bh = rh / static_cast<C>(ph_n), bw = rw / static_cast<C>(pw_n);
      const int64_t gh = sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(rh / static_cast<C>(ph_n)));
      const int64_t gw = sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(rw / static_cast<C>(pw_n)));
      if (gh < 0 || gw < 0 || gh * gw > (int64_t{1} << 24)) {
        return ctx.error(fmt::format("roi {} needs a sampling grid of {}x{}", r, gh, gw));
      }
      const C count = static_cast<C>(std::max<int64_t>(gh * gw, 1));
      std::vector<Sample> samples(static_cast<size_t>(ph_n * pw_n * gh * gw));
      size_t si = 0;
      for (int64_t ph = 0; ph < ph_n; ++ph) {
        for (int64_t pw = 0; pw < pw_n; ++pw) {
          for (int64_t iy = 0; iy < gh; ++iy) {
            const C yy = sy + static_cast<C>(ph) * bh + (static_cast<C>(iy) + C(0.5)) * bh / static_cast<C>(gh);
            for (int64_t ix = 0; ix < gw; ++ix) {
              const C xx = sx + static_cast<C>(pw) * bw + (static_cast<C>(ix) + C(0.5)) * bw / static_cast<C>(gw);
              Sample& s = samples[si++];
              s = Sample{{0, 0, 0, 0}, {0, 0, 0, 0}};
              C yv = yy, xv = xx;
              if (yv < C(-1) || yv > static_cast<C>(height) || xv < C(-1) || xv > static_cast<C>(width)) continue;
              yv = std::max(yv, C(0));
              xv = std::max(xv, C(0));
              int64_t yl = static_cast<int64_t>(yv), xl = static_cast<int64_t>(xv), yh, xh;
              if (yl >= height - 1) {
                yh = yl = height - 1;
                yv = static_cast<C>(yl);
              } else {
                yh = yl + 1;
              }
              if (xl >= width - 1) {
                xh = xl = width - 1;
                xv = static_cast<C>(xl);
              } else {
                xh = xl + 1;
              }
              const C ly = yv - static_cast<C>(yl), lx = xv - static_cast<C>(xl);
              const C hy = C(1) - ly, hx = C(1) - lx;
              s = Sample{{yl * width + xl, yl * width + xh, yh * width + xl, yh * width + xh},
                         {hy * hx, hy * lx, ly * hx, ly * lx}};
            }
          }
        }
      }
      for (int64_t c = 0; c < chans; ++c) {
        const T* plane = in + (bidx[static_cast<size_t>(r)] * chans + c) * height * width;
        size_t k = 0;
        for (int64_t p = 0; p < ph_n * pw_n; ++p) {
          double acc = 0;
          bool first = true;
          for (int64_t g = 0; g < gh * gw; ++g, ++k) {
            const Sample& s = samples[k];
            C v[4];
            for (int q = 0; q < 4; ++q) v[q] = s.w[q] * static_cast<C>(plane[s.pos[q]]);
            if (mode == "avg") {
              acc += static_cast<double>(v[0]) + static_cast<double>(v[1]) + static_cast<double>(v[2]) +
                     static_cast<double>(v[3]);
            } else {
              const double m = static_cast<double>(std::max(std::max(v[0], v[1]), std::max(v[2], v[3])));
              acc = first ? m : std::max(acc, m);
              first = false;
            }
          }
          if (mode == "avg") acc /= static_cast<double>(count);
          out[(r * chans + c) * ph_n * pw_n + p] = static_cast<T>(static_cast<C>(acc));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
