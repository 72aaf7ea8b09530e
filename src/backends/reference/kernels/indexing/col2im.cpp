#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Each column channel c * prod(block) + k (k row-major over the block) and block position l
// (row-major over the block grid) adds into image pixel l * stride - pad_begin + k * dilation.
Status ref_col2im(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 3) return ctx.error(fmt::format("input 0 'input' has rank {}, expected 3", x.rank()));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> img, indexing::read_indices(ctx, 1, "image_shape"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> blk, indexing::read_indices(ctx, 2, "block_shape"));
  const size_t r = img.size();
  if (r == 0 || blk.size() != r) {
    return ctx.error(fmt::format("image_shape has {} values and block_shape {}; they must match and be non-empty", r,
                                 blk.size()));
  }
  const std::vector<int64_t> dil = ctx.attrs().get_ints("dilations", std::vector<int64_t>(r, 1));
  const std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * r, 0));
  const std::vector<int64_t> str = ctx.attrs().get_ints("strides", std::vector<int64_t>(r, 1));
  if (dil.size() != r || str.size() != r || pads.size() != 2 * r) {
    return ctx.error(fmt::format("dilations/strides need {} values and pads {}", r, 2 * r));
  }
  int64_t kprod = 1, lprod = 1;
  Dims nblocks(r);
  for (size_t d = 0; d < r; ++d) {
    if (blk[d] < 1 || dil[d] < 1 || str[d] < 1 || img[d] < 0) {
      return ctx.error(fmt::format("dim {}: block {}, dilation {}, stride {}, image {} are not valid", d, blk[d], dil[d],
                                   str[d], img[d]));
    }
    kprod *= blk[d];
    const int64_t span = img[d] + pads[d] + pads[r + d] - dil[d] * (blk[d] - 1) - 1;
    if (span < 0) return ctx.error(fmt::format("dim {}: the block does not fit the padded image", d));
    nblocks[d] = span / str[d] + 1;
    lprod *= nblocks[d];
  }
  if (x.dim(1) % kprod != 0) {
    return ctx.error(fmt::format("input dim 1 ({}) is not divisible by the block size {}", x.dim(1), kprod));
  }
  if (x.dim(2) != lprod) {
    return ctx.error(fmt::format("input dim 2 is {}, expected {} blocks", x.dim(2), lprod));
  }
  const int64_t n = x.dim(0), chans = x.dim(1) / kprod;
  Dims od{n, chans};
  od.insert(od.end(), img.begin(), img.end());
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), od));
  const Dims kdims(blk.begin(), blk.end());
  const Dims idims(img.begin(), img.end());
  const std::vector<int64_t> istr = contiguous_strides(idims);
  const int64_t plane = element_count(idims);
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    std::vector<C> acc(static_cast<size_t>(plane));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t c = 0; c < chans; ++c) {
        std::fill(acc.begin(), acc.end(), C(0));
        for_each_index(kdims, [&](int64_t k, const std::vector<int64_t>& kp) {
          for_each_index(nblocks, [&](int64_t l, const std::vector<int64_t>& lp) {
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) {
              const int64_t p = lp[d] * str[d] - pads[d] + kp[d] * dil[d];
              if (p < 0 || p >= img[d]) return;
              off += p * istr[d];
            }
            acc[static_cast<size_t>(off)] += static_cast<C>(in[((b * chans + c) * kprod + k) * lprod + l]);
          });
        });
        for (int64_t i = 0; i < plane; ++i) out[(b * chans + c) * plane + i] = static_cast<T>(acc[static_cast<size_t>(i)]);
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
