// NonMaxSuppression, following the ONNX reference: per batch and class, candidates above
// score_threshold (strictly) in descending score order (ties: lower box index first), each kept
// unless its IoU with an already kept box exceeds iou_threshold (strictly).
#include <algorithm>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {
namespace {

template <typename C>
bool suppress(const C* b1, const C* b2, bool center, C iou_threshold) {
  C x1min, x1max, x2min, x2max, y1min, y1max, y2min, y2max;
  if (!center) {
    x1min = std::min(b1[1], b1[3]);
    x1max = std::max(b1[1], b1[3]);
    x2min = std::min(b2[1], b2[3]);
    x2max = std::max(b2[1], b2[3]);
    y1min = std::min(b1[0], b1[2]);
    y1max = std::max(b1[0], b1[2]);
    y2min = std::min(b2[0], b2[2]);
    y2max = std::max(b2[0], b2[2]);
  } else {
    x1min = b1[0] - b1[2] / 2;
    x1max = b1[0] + b1[2] / 2;
    x2min = b2[0] - b2[2] / 2;
    x2max = b2[0] + b2[2] / 2;
    y1min = b1[1] - b1[3] / 2;
    y1max = b1[1] + b1[3] / 2;
    y2min = b2[1] - b2[3] / 2;
    y2max = b2[1] + b2[3] / 2;
  }
  const C ixmin = std::max(x1min, x2min), ixmax = std::min(x1max, x2max);
  if (ixmax <= ixmin) return false;
  const C iymin = std::max(y1min, y2min), iymax = std::min(y1max, y2max);
  if (iymax <= iymin) return false;
  const C inter = (ixmax - ixmin) * (iymax - iymin);
  if (inter <= 0) return false;
  const C a1 = (x1max - x1min) * (y1max - y1min);
  const C a2 = (x2max - x2min) * (y2max - y2min);
  const C uni = a1 + a2 - inter;
  if (a1 <= 0 || a2 <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

}  // namespace

Status ref_non_max_suppression(KernelContext& ctx) {
  const Tensor& boxes = *ctx.input(0);
  const Tensor& scores = *ctx.input(1);
  if (boxes.rank() != 3 || boxes.dim(2) != 4) {
    return ctx.error(fmt::format("input 0 'boxes' has shape {}, expected [batches, boxes, 4]", dims_to_string(boxes.shape())));
  }
  if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1)) {
    return ctx.error(fmt::format("input 1 'scores' has shape {}, expected [{}, classes, {}]", dims_to_string(scores.shape()),
                                 boxes.dim(0), boxes.dim(1)));
  }
  if (scores.dtype() != boxes.dtype()) return ctx.error("input 1 'scores' must have the dtype of boxes");
  const bool center = ctx.attrs().get_int("center_point_box", 0) != 0;
  int64_t max_out = 0;
  double iou = 0, score_th = 0;
  bool has_score_th = false;
  if (const Tensor* t = ctx.input(2); t && t->numel() > 0) {
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> v, indexing::read_indices(ctx, 2, "max_output_boxes_per_class"));
    max_out = std::max<int64_t>(v[0], 0);
  }
  if (const Tensor* t = ctx.input(3); t && t->numel() > 0) {
    auto v = read_doubles(*t);
    if (!v.ok()) return ctx.error(fmt::format("input 3 'iou_threshold': {}", v.status().message()));
    iou = (*v)[0];
  }
  if (const Tensor* t = ctx.input(4); t && t->numel() > 0) {
    auto v = read_doubles(*t);
    if (!v.ok()) return ctx.error(fmt::format("input 4 'score_threshold': {}", v.status().message()));
    score_th = (*v)[0];
    has_score_th = true;
  }
  const int64_t nb = boxes.dim(0), nbox = boxes.dim(1), ncls = scores.dim(1);
  std::vector<int64_t> selected;
  KILN_RETURN_IF_ERROR(dispatch_float(boxes.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    std::vector<C> bx(static_cast<size_t>(boxes.numel()));
    for (size_t i = 0; i < bx.size(); ++i) bx[i] = static_cast<C>(boxes.data_as<T>()[i]);
    const T* sc = scores.data_as<T>();
    const C iou_c = static_cast<C>(iou), score_c = static_cast<C>(score_th);
    for (int64_t b = 0; b < nb; ++b) {
      for (int64_t c = 0; c < ncls; ++c) {
        std::vector<std::pair<C, int64_t>> cand;
        for (int64_t i = 0; i < nbox; ++i) {
          const C s = static_cast<C>(sc[(b * ncls + c) * nbox + i]);
          if (!has_score_th || s > score_c) cand.emplace_back(s, i);
        }
        std::stable_sort(cand.begin(), cand.end(), [](const auto& a, const auto& o) {
          return a.first > o.first || (a.first == o.first && a.second < o.second);
        });
        std::vector<int64_t> kept;
        for (const auto& [s, i] : cand) {
          if (static_cast<int64_t>(kept.size()) >= max_out) break;
          bool keep = true;
          for (int64_t k : kept) {
            if (suppress(&bx[static_cast<size_t>((b * nbox + i) * 4)], &bx[static_cast<size_t>((b * nbox + k) * 4)], center,
                         iou_c)) {
              keep = false;
              break;
            }
          }
          if (keep) {
            kept.push_back(i);
            selected.insert(selected.end(), {b, c, i});
          }
        }
      }
    }
    return ok_status();
  }));
  const int64_t n = static_cast<int64_t>(selected.size() / 3);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {n, 3}));
  std::copy(selected.begin(), selected.end(), y->data_as<int64_t>());
  return ok_status();
}

}  // namespace kiln
