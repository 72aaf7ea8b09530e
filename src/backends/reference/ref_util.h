// Small helpers for reference kernels: broadcasting index maps and multi-index iteration.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

// Row-major strides of a shape.
std::vector<int64_t> contiguous_strides(const Dims& dims);

// Strides of `in` viewed as broadcast to `out` (0 where `in` has size 1 or is missing).
std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out);

// Walks every multi-index of `dims` in row-major order. For each element it calls
// fn(linear_index, index) where index is the current multi-index.
template <typename Fn>
void for_each_index(const Dims& dims, Fn&& fn) {
  const int64_t n = element_count(dims);
  if (n <= 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    fn(lin, idx);
    for (size_t d = dims.size(); d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

// Offsets into each input for every output element under broadcasting. Calls
// fn(out_linear, offsets) with offsets[k] the element offset into input k.
template <typename Fn>
void for_each_broadcast(const Dims& out, const std::vector<Dims>& ins, Fn&& fn) {
  std::vector<std::vector<int64_t>> strides;
  strides.reserve(ins.size());
  for (const Dims& d : ins) strides.push_back(broadcast_strides(d, out));
  std::vector<int64_t> offs(ins.size(), 0);
  const int64_t n = element_count(out);
  if (n <= 0) return;
  std::vector<int64_t> idx(out.size(), 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    fn(lin, offs);
    for (size_t d = out.size(); d-- > 0;) {
      if (++idx[d] < out[d]) {
        for (size_t k = 0; k < ins.size(); ++k) offs[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < ins.size(); ++k) offs[k] -= strides[k][d] * (out[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace kiln
