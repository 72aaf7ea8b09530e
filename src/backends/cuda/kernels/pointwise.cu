#include <limits>

#include "backends/cuda/kernels/pointwise.h"

namespace kiln::cuda {

bool broadcast_shape(const int64_t* a, int a_rank, const int64_t* b, int b_rank, int64_t* out,
                     int* out_rank) {
  if (a_rank < 0 || b_rank < 0 || a_rank > kMaxRank || b_rank > kMaxRank) return false;
  const int r = a_rank > b_rank ? a_rank : b_rank;
  for (int d = 0; d < r; ++d) {
    const int da = d - (r - a_rank), db = d - (r - b_rank);
    const int64_t x = da >= 0 ? a[da] : 1, y = db >= 0 ? b[db] : 1;
    if (x == y || y == 1) {
      out[d] = x;
    } else if (x == 1) {
      out[d] = y;
    } else {
      return false;
    }
  }
  *out_rank = r;
  return true;
}

bool plan_broadcast(const int64_t* out_dims, int out_rank, const int64_t* const* operand_dims,
                    const int* operand_ranks, int count, BroadcastPlan* plan) {
  if (out_rank < 0 || out_rank > kMaxRank || count < 0 || count > kMaxBroadcastOperands)
    return false;
  BroadcastPlan p;
  p.operands = count;
  // Each operand's row-major strides against the output's dims, 0 where it is broadcast.
  int64_t full[kMaxBroadcastOperands][kMaxRank] = {};
  for (int k = 0; k < count; ++k) {
    const int r = operand_ranks[k];
    if (r < 0 || r > out_rank) return false;
    int64_t stride = 1;
    for (int d = out_rank - 1; d >= 0; --d) {
      const int od = d - (out_rank - r);
      const int64_t dim = od >= 0 ? operand_dims[k][od] : 1;
      if (dim != out_dims[d] && dim != 1) return false;
      full[k][d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  for (int d = 0; d < out_rank; ++d) {
    if (out_dims[d] < 0) return false;
    p.numel *= out_dims[d];
  }
  if (p.numel == 0) {
    *plan = p;
    return true;
  }
  // p.strides[k][g] is the stride of the innermost output dim merged into collapsed dim g; the
  // next dim d joins g when, for every operand, one step along g's innermost dim is one full
  // pass over d (both 0 when the operand reads neither).
  for (int d = 0; d < out_rank; ++d) {
    if (out_dims[d] == 1) continue;
    bool merge = p.rank > 0;
    for (int k = 0; k < count && merge; ++k)
      merge = p.strides[k][p.rank - 1] == full[k][d] * out_dims[d];
    if (merge) {
      p.dims[p.rank - 1] *= out_dims[d];
      for (int k = 0; k < count; ++k) p.strides[k][p.rank - 1] = full[k][d];
      continue;
    }
    p.dims[p.rank] = out_dims[d];
    for (int k = 0; k < count; ++k) p.strides[k][p.rank] = full[k][d];
    ++p.rank;
  }
  *plan = p;
  return true;
}

namespace {

constexpr int kThreads = 256;

template <typename T, bool kVec>
__global__ void unary_kernel(const UnaryOp op, const T* x, T* y, int64_t n) {
  constexpr int kStep = kAccess<T, kVec>;
  const int64_t packs = n / kStep;
  for (int64_t p = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < packs;
       p += int64_t{gridDim.x} * blockDim.x) {
    float v[kStep];
    load_access<T, kVec>(x + p * kStep, v);
#pragma unroll
    for (int i = 0; i < kStep; ++i) v[i] = unary_op<T>(op, v[i]);
    store_access<T, kVec>(y + p * kStep, v);
  }
  if constexpr (kVec) {
    const int64_t i = tail_index(packs, kStep);
    if (i < n) store_f32(y + i, unary_op<T>(op, load_f32(x + i)));
  }
}

template <typename T, typename Index>
struct BinaryArgs {
  BinaryOp op;
  const T* a;
  const T* b;
  T* y;
  StridedLayout<Index, 2> layout;
  Index packs;  // work items: packs of kStep elements along the innermost dim
  Index numel;
};

// With kVec the innermost dim is a whole number of packs, or the layout has rank 1 and the last
// numel % kStep elements are the tail.
template <typename T, typename Index, bool kVec>
__global__ void binary_kernel(const __grid_constant__ BinaryArgs<T, Index> args) {
  constexpr int kStep = kAccess<T, kVec>;
  const int inner = args.layout.rank - 1;
  const bool a_runs = args.layout.strides[0][inner] != 0,
             b_runs = args.layout.strides[1][inner] != 0;
  for (Index p = blockIdx.x * blockDim.x + threadIdx.x; p < args.packs;
       p += gridDim.x * blockDim.x) {
    const Index e = p * kStep;
    Index off[2];
    operand_offsets(args.layout, e, off);
    float a[kStep], b[kStep], out[kStep];
    load_operand<T, kVec>(args.a + off[0], a_runs, a);
    load_operand<T, kVec>(args.b + off[1], b_runs, b);
#pragma unroll
    for (int i = 0; i < kStep; ++i) out[i] = binary_op(args.op, a[i], b[i]);
    store_access<T, kVec>(args.y + e, out);
  }
  if constexpr (kVec) {
    const int64_t i = tail_index(args.packs, kStep);
    if (i < args.numel) {
      Index off[2];
      operand_offsets(args.layout, static_cast<Index>(i), off);
      store_f32(args.y + i,
                binary_op(args.op, load_f32(args.a + off[0]), load_f32(args.b + off[1])));
    }
  }
}

template <typename T, typename Index, bool kVec>
cudaError_t launch_binary(BinaryOp op, const T* a, const T* b, T* y, const BroadcastPlan& plan,
                          cudaStream_t stream) {
  constexpr int kStep = kAccess<T, kVec>;
  BinaryArgs<T, Index> args{};
  args.op = op;
  args.a = a;
  args.b = b;
  args.y = y;
  args.layout = strided_layout<Index, 2>(plan);
  args.numel = static_cast<Index>(plan.numel);
  args.packs = static_cast<Index>(plan.numel / kStep);
  binary_kernel<T, Index, kVec><<<grid_blocks(args.packs, kThreads), kThreads, 0, stream>>>(args);
  return launch_error();
}

template <typename From, typename To, bool kVec>
__global__ void cast_kernel(const From* x, To* y, int64_t n) {
  // 8 elements per step: one 16-byte access of a 16-bit type, two of float32.
  constexpr int kStep = kVec ? 8 : 1;
  const int64_t packs = n / kStep;
  for (int64_t p = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < packs;
       p += int64_t{gridDim.x} * blockDim.x) {
    float v[kStep];
    if constexpr (kVec) {
#pragma unroll
      for (int j = 0; j < kStep; j += kPack<From>) load_pack(x + p * kStep + j, v + j);
#pragma unroll
      for (int j = 0; j < kStep; j += kPack<To>) store_pack(y + p * kStep + j, v + j);
    } else {
      store_f32(y + p, load_f32(x + p));
    }
  }
  if constexpr (kVec) {
    const int64_t i = tail_index(packs, kStep);
    if (i < n) store_f32(y + i, load_f32(x + i));
  }
}

template <typename From>
cudaError_t launch_cast(const From* x, void* y, DataType to, int64_t n, cudaStream_t stream) {
  return dispatch_float(to, [&](auto tag) {
    using To = typename decltype(tag)::type;
    To* out = static_cast<To*>(y);
    if (is_aligned16(x) && is_aligned16(y)) {
      cast_kernel<From, To, true><<<grid_blocks(n / 8, kThreads), kThreads, 0, stream>>>(x, out, n);
    } else {
      cast_kernel<From, To, false><<<grid_blocks(n, kThreads), kThreads, 0, stream>>>(x, out, n);
    }
    return launch_error();
  });
}

}  // namespace

cudaError_t unary(const UnaryOp& op, const void* x, void* y, DataType dt, int64_t n,
                  cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
    T* out = static_cast<T*>(y);
    if (is_aligned16(x) && is_aligned16(y)) {
      unary_kernel<T, true>
          <<<grid_blocks(n / kPack<T>, kThreads), kThreads, 0, stream>>>(op, in, out, n);
    } else {
      unary_kernel<T, false><<<grid_blocks(n, kThreads), kThreads, 0, stream>>>(op, in, out, n);
    }
    return launch_error();
  });
}

cudaError_t binary(BinaryOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                   const int64_t* b_dims, int b_rank, void* y, DataType dt, cudaStream_t stream) {
  int64_t out_dims[kMaxRank];
  int out_rank = 0;
  if (!broadcast_shape(a_dims, a_rank, b_dims, b_rank, out_dims, &out_rank))
    return cudaErrorInvalidValue;
  const int64_t* dims[2] = {a_dims, b_dims};
  const int ranks[2] = {a_rank, b_rank};
  BroadcastPlan plan;
  if (!plan_broadcast(out_dims, out_rank, dims, ranks, 2, &plan)) return cudaErrorInvalidValue;
  if (plan.numel == 0) return cudaSuccess;
  if (!a || !b || !y) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* py = static_cast<T*>(y);
    // 16-byte accesses need every operand that runs along the innermost dim, and y, aligned,
    // and packs that do not straddle an innermost row (a rank-1 layout takes a scalar tail).
    const int inner = plan.rank - 1;
    bool vec = is_aligned16(y) && (plan.rank <= 1 || plan.dims[inner] % kPack<T> == 0);
    if (plan.rank > 0) {
      if (plan.strides[0][inner] != 0) vec = vec && is_aligned16(a);
      if (plan.strides[1][inner] != 0) vec = vec && is_aligned16(b);
    }
    const bool narrow = plan.numel <= std::numeric_limits<int32_t>::max();
    if (narrow) {
      return vec ? launch_binary<T, uint32_t, true>(op, pa, pb, py, plan, stream)
                 : launch_binary<T, uint32_t, false>(op, pa, pb, py, plan, stream);
    }
    return vec ? launch_binary<T, int64_t, true>(op, pa, pb, py, plan, stream)
               : launch_binary<T, int64_t, false>(op, pa, pb, py, plan, stream);
  });
}

cudaError_t cast(const void* x, DataType from, void* y, DataType to, int64_t n,
                 cudaStream_t stream) {
  if (n < 0 || !is_kernel_float(from) || !is_kernel_float(to)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  if (from == to) {
    if (x == y) return cudaSuccess;
    return cudaMemcpyAsync(y, x, static_cast<size_t>(n) * element_bytes(from),
                           cudaMemcpyDeviceToDevice, stream);
  }
  return dispatch_float(from, [&](auto tag) {
    using From = typename decltype(tag)::type;
    return launch_cast<From>(static_cast<const From*>(x), y, to, n, stream);
  });
}

}  // namespace kiln::cuda
