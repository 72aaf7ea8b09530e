// GridSample, N-D. Follows the ONNX reference step by step: grid coordinates are reversed
// (the last grid component indexes the last spatial dim), denormalized in float32, rounded
// half-to-even for nearest, clamped or reflected when outside the borders, then sampled with
// separable linear / cubic taps whose out-of-range pixels follow padding_mode.
#include <algorithm>
#include <cmath>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {
namespace {

enum class Pad { kZeros, kBorder, kReflection };

double reflect(double x, double lo, double hi) {
  const double rng = hi - lo;
  if (rng <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const int64_t n = static_cast<int64_t>(dx / rng);
    const double r = dx - static_cast<double>(n) * rng;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const int64_t n = static_cast<int64_t>(dx / rng);
    const double r = dx - static_cast<double>(n) * rng;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

// The pixel index that integer position i reads along a dim of size d (-1: a zero pixel).
int64_t pixel_index(int64_t i, int64_t d, Pad pad, double lo, double hi) {
  if (pad == Pad::kZeros) return (i >= 0 && i < d) ? i : -1;
  if (pad == Pad::kBorder) return std::clamp<int64_t>(i, 0, d - 1);
  const int64_t j = static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi));
  return std::clamp<int64_t>(j, 0, d - 1);
}

void cubic_coeffs(double x, double c[4]) {
  const double a = -0.75;
  x = std::fabs(x);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

}  // namespace

Status ref_grid_sample(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& grid = *ctx.input(1);
  const int64_t rank = x.rank();
  if (rank < 3) return ctx.error(fmt::format("input 0 'X' has rank {}, expected >= 3", rank));
  const size_t sp = static_cast<size_t>(rank - 2);
  if (grid.rank() != rank || grid.dim(rank - 1) != static_cast<int64_t>(sp) || grid.dim(0) != x.dim(0)) {
    return ctx.error(fmt::format("input 1 'grid' has shape {}, expected [{}, ..., {}] of rank {}",
                                 dims_to_string(grid.shape()), x.dim(0), sp, rank));
  }
  std::string mode = ctx.attrs().get_string("mode", ctx.node().opset >= 20 ? "linear" : "bilinear");
  if (mode == "bilinear") mode = "linear";
  if (mode == "bicubic") mode = "cubic";
  if (mode != "linear" && mode != "nearest" && mode != "cubic") return ctx.error(fmt::format("mode '{}' is not supported", mode));
  const std::string ps = ctx.attrs().get_string("padding_mode", "zeros");
  Pad pad;
  if (ps == "zeros") pad = Pad::kZeros;
  else if (ps == "border") pad = Pad::kBorder;
  else if (ps == "reflection") pad = Pad::kReflection;
  else return ctx.error(fmt::format("padding_mode '{}' is not supported", ps));
  const bool align = ctx.attrs().get_int("align_corners", 0) != 0;
  const int64_t n_batch = x.dim(0), chans = x.dim(1);
  Dims dims(x.shape().begin() + 2, x.shape().end());
  Dims gdims(grid.shape().begin() + 1, grid.shape().end() - 1);
  Dims od{n_batch, chans};
  od.insert(od.end(), gdims.begin(), gdims.end());
  for (int64_t d : dims) {
    // Only zero padding has a value to give when there is no pixel to read.
    if (d == 0 && pad != Pad::kZeros) return ctx.error(fmt::format("padding_mode '{}' needs a non-empty image", ps));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), od));
  if (y->numel() == 0) return ok_status();
  std::vector<double> gv;
  KILN_RETURN_IF_ERROR(dispatch_float(grid.dtype(), [&](auto tag) {
    using G = typename decltype(tag)::type;
    const G* g = grid.data_as<G>();
    gv.resize(static_cast<size_t>(grid.numel()));
    for (size_t i = 0; i < gv.size(); ++i) gv[i] = static_cast<double>(static_cast<compute_t<G>>(g[i]));
    return ok_status();
  }));
  std::vector<double> lo(sp), hi(sp);
  for (size_t i = 0; i < sp; ++i) {
    lo[i] = align ? 0.0 : -0.5;
    hi[i] = align ? static_cast<double>(dims[i]) - 1 : static_cast<double>(dims[i]) - 0.5;
  }
  const int64_t points = element_count(gdims);
  const int64_t plane = element_count(dims);
  const std::vector<int64_t> strides = contiguous_strides(dims);
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    std::vector<std::vector<std::pair<int64_t, double>>> taps(sp);
    auto eval = [&](auto&& self, const T* base, size_t d, int64_t off) -> double {
      if (d == sp) return static_cast<double>(static_cast<compute_t<T>>(base[off]));
      double acc = 0;
      for (const auto& [idx, w] : taps[d]) {
        if (idx < 0) continue;  // a zero pixel
        acc += w * self(self, base, d + 1, off + idx * strides[d]);
      }
      return acc;
    };
    for (int64_t n = 0; n < n_batch; ++n) {
      for (int64_t p = 0; p < points; ++p) {
        const double* g = &gv[static_cast<size_t>((n * points + p) * static_cast<int64_t>(sp))];
        for (size_t i = 0; i < sp; ++i) {
          const float nv = static_cast<float>(g[sp - 1 - i]);
          const float len = static_cast<float>(dims[i]);
          float c = align ? (nv + 1) / 2.0f * (len - 1) : ((nv + 1) * len - 1) / 2.0f;
          if (mode == "nearest") c = std::nearbyint(c);
          if (c < lo[i] || c > hi[i]) {
            if (pad == Pad::kBorder) c = std::clamp(c, 0.0f, len - 1);
            else if (pad == Pad::kReflection) c = static_cast<float>(reflect(c, lo[i], hi[i]));
          }
          taps[i].clear();
          if (mode == "nearest") {
            const int64_t idx = static_cast<int64_t>(static_cast<int32_t>(c));
            taps[i].emplace_back(pixel_index(idx, dims[i], pad, lo[i], hi[i]), 1.0);
          } else if (mode == "linear") {
            const int64_t x0 = static_cast<int64_t>(std::floor(c));
            const double f = static_cast<double>(c - static_cast<float>(x0));
            taps[i].emplace_back(pixel_index(x0, dims[i], pad, lo[i], hi[i]), 1.0 - f);
            taps[i].emplace_back(pixel_index(x0 + 1, dims[i], pad, lo[i], hi[i]), f);
          } else {
            const int64_t x0 = static_cast<int64_t>(std::floor(c));
            double cc[4];
            cubic_coeffs(static_cast<double>(c - static_cast<float>(x0)), cc);
            for (int64_t k = 0; k < 4; ++k) {
              taps[i].emplace_back(pixel_index(x0 - 1 + k, dims[i], pad, lo[i], hi[i]), cc[k]);
            }
          }
        }
        for (int64_t c = 0; c < chans; ++c) {
          const T* base = in + (n * chans + c) * plane;
          const double v = eval(eval, base, 0, 0);
          T& dst = out[(n * chans + c) * points + p];
          dst = indexing::from_double<T>(v);
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
