#include <limits>
#include <type_traits>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/logic.h"

namespace kiln::cuda {

bool is_compare_type(DataType t, CompareOp op) {
  if (t == DataType::kBool) return op == CompareOp::kEqual;
  return is_kernel_float(t) || t == DataType::kInt32 || t == DataType::kInt64;
}

namespace {

constexpr int kThreads = 256;

// --- broadcasting ------------------------------------------------------------------------------

// The broadcast plan of `count` operands against the broadcast of all their shapes; false when
// they do not broadcast or a rank exceeds kMaxRank.
bool plan_operands(int count, const int64_t* const* dims, const int* ranks, BroadcastPlan* plan) {
  int64_t out[kMaxRank] = {}, next[kMaxRank] = {};
  int out_rank = 0;
  for (int k = 0; k < count; ++k) {
    int next_rank = 0;
    if (!broadcast_shape(out, out_rank, dims[k], ranks[k], next, &next_rank)) return false;
    for (int d = 0; d < next_rank; ++d) out[d] = next[d];
    out_rank = next_rank;
  }
  return plan_broadcast(out, out_rank, dims, ranks, count, plan);
}

// fn(e, offsets) for every output element e, offsets holding each operand's element offset.
template <typename Index, int N, typename Fn>
__global__ void broadcast_map_kernel(const __grid_constant__ StridedLayout<Index, N> layout,
                                     Index numel, Fn fn) {
  for (Index e = blockIdx.x * blockDim.x + threadIdx.x; e < numel; e += gridDim.x * blockDim.x) {
    Index off[N];
    operand_offsets(layout, e, off);
    fn(e, off);
  }
}

template <int N, typename Fn>
cudaError_t launch_map(const BroadcastPlan& plan, const Fn& fn, cudaStream_t stream) {
  const int blocks = grid_blocks(plan.numel, kThreads);
  // uint32 indices as binary's: the numel, plus the grid's threads, stays below 2^32.
  if (plan.numel <= std::numeric_limits<int32_t>::max()) {
    broadcast_map_kernel<uint32_t, N, Fn><<<blocks, kThreads, 0, stream>>>(
        strided_layout<uint32_t, N>(plan), static_cast<uint32_t>(plan.numel), fn);
  } else {
    broadcast_map_kernel<int64_t, N, Fn>
        <<<blocks, kThreads, 0, stream>>>(strided_layout<int64_t, N>(plan), plan.numel, fn);
  }
  return launch_error();
}

// --- element functions -------------------------------------------------------------------------

// An operand as the reference compares it: 16-bit floats as fp32 (exact), integers as
// themselves, bool bytes as bool.
__device__ __forceinline__ float operand_value(float v) { return v; }
__device__ __forceinline__ float operand_value(__half v) { return __half2float(v); }
__device__ __forceinline__ float operand_value(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ int32_t operand_value(int32_t v) { return v; }
__device__ __forceinline__ int64_t operand_value(int64_t v) { return v; }
__device__ __forceinline__ bool operand_value(uint8_t v) { return v != 0; }

template <typename T>
struct CompareFn {
  CompareOp op;
  const T* a;
  const T* b;
  uint8_t* y;
  template <typename Index>
  __device__ __forceinline__ void operator()(Index e, const Index (&off)[2]) const {
    const auto x = operand_value(a[off[0]]);
    const auto z = operand_value(b[off[1]]);
    bool r = false;
    switch (op) {
      case CompareOp::kEqual:
        r = x == z;
        break;
      case CompareOp::kLess:
        r = x < z;
        break;
      case CompareOp::kLessOrEqual:
        r = x <= z;
        break;
      case CompareOp::kGreater:
        r = x > z;
        break;
      case CompareOp::kGreaterOrEqual:
        r = x >= z;
        break;
    }
    y[e] = r ? 1 : 0;
  }
};

struct LogicFn {
  LogicOp op;
  const uint8_t* a;
  const uint8_t* b;
  uint8_t* y;
  template <typename Index>
  __device__ __forceinline__ void operator()(Index e, const Index (&off)[2]) const {
    const bool x = a[off[0]] != 0, z = b[off[1]] != 0;
    bool r = false;
    switch (op) {
      case LogicOp::kAnd:
        r = x && z;
        break;
      case LogicOp::kOr:
        r = x || z;
        break;
      case LogicOp::kXor:
        r = x != z;
        break;
    }
    y[e] = r ? 1 : 0;
  }
};

// Wrapping arithmetic: computed on the unsigned type, so overflow is defined (the reference's
// wrap_add / wrap_sub / wrap_mul).
template <typename T>
struct IntArithFn {
  BinaryOp op;
  const T* a;
  const T* b;
  T* y;
  template <typename Index>
  __device__ __forceinline__ void operator()(Index e, const Index (&off)[2]) const {
    using U = std::make_unsigned_t<T>;
    const U x = static_cast<U>(a[off[0]]), z = static_cast<U>(b[off[1]]);
    U r = 0;
    switch (op) {
      case BinaryOp::kAdd:
        r = x + z;
        break;
      case BinaryOp::kSub:
        r = x - z;
        break;
      case BinaryOp::kMul:
        r = x * z;
        break;
      default:
        break;  // refused by int_binary
    }
    y[e] = static_cast<T>(r);
  }
};

template <typename U>
struct WhereFn {
  const uint8_t* cond;
  const U* x;
  const U* y;
  U* out;
  template <typename Index>
  __device__ __forceinline__ void operator()(Index e, const Index (&off)[3]) const {
    out[e] = cond[off[0]] != 0 ? x[off[1]] : y[off[2]];
  }
};

__global__ void not_kernel(const uint8_t* x, uint8_t* y, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = x[i] != 0 ? 0 : 1;
  }
}

// Plans the two operands of a binary op; the plan in *plan. cudaSuccess with plan->numel == 0
// when there is nothing to compute.
cudaError_t plan_two(const void* a, const int64_t* a_dims, int a_rank, const void* b,
                     const int64_t* b_dims, int b_rank, const void* y, BroadcastPlan* plan) {
  const int64_t* dims[2] = {a_dims, b_dims};
  const int ranks[2] = {a_rank, b_rank};
  if (!plan_operands(2, dims, ranks, plan)) return cudaErrorInvalidValue;
  if (plan->numel > 0 && (!a || !b || !y)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace

cudaError_t compare(CompareOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                    const int64_t* b_dims, int b_rank, void* y, DataType dt, cudaStream_t stream) {
  if (!is_compare_type(dt, op) ||
      static_cast<int>(op) > static_cast<int>(CompareOp::kGreaterOrEqual))
    return cudaErrorInvalidValue;
  BroadcastPlan plan;
  KILN_CUDA_RETURN_IF_ERROR(plan_two(a, a_dims, a_rank, b, b_dims, b_rank, y, &plan));
  if (plan.numel == 0) return cudaSuccess;
  uint8_t* out = static_cast<uint8_t*>(y);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    return launch_map<2>(
        plan, CompareFn<T>{op, static_cast<const T*>(a), static_cast<const T*>(b), out}, stream);
  };
  switch (dt) {
    case DataType::kFloat32:
      return run(TypeTag<float>{});
    case DataType::kFloat16:
      return run(TypeTag<__half>{});
    case DataType::kBFloat16:
      return run(TypeTag<__nv_bfloat16>{});
    case DataType::kInt32:
      return run(TypeTag<int32_t>{});
    case DataType::kInt64:
      return run(TypeTag<int64_t>{});
    case DataType::kBool:
      return run(TypeTag<uint8_t>{});
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t logic(LogicOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                  const int64_t* b_dims, int b_rank, void* y, cudaStream_t stream) {
  if (static_cast<int>(op) > static_cast<int>(LogicOp::kXor)) return cudaErrorInvalidValue;
  BroadcastPlan plan;
  KILN_CUDA_RETURN_IF_ERROR(plan_two(a, a_dims, a_rank, b, b_dims, b_rank, y, &plan));
  if (plan.numel == 0) return cudaSuccess;
  return launch_map<2>(plan,
                       LogicFn{op, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b),
                               static_cast<uint8_t*>(y)},
                       stream);
}

cudaError_t logical_not(const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  not_kernel<<<grid_blocks(n, kThreads), kThreads, 0, stream>>>(static_cast<const uint8_t*>(x),
                                                                static_cast<uint8_t*>(y), n);
  return launch_error();
}

cudaError_t int_binary(BinaryOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                       const int64_t* b_dims, int b_rank, void* y, DataType dt,
                       cudaStream_t stream) {
  if (op != BinaryOp::kAdd && op != BinaryOp::kSub && op != BinaryOp::kMul)
    return cudaErrorInvalidValue;
  if (dt != DataType::kInt32 && dt != DataType::kInt64) return cudaErrorInvalidValue;
  BroadcastPlan plan;
  KILN_CUDA_RETURN_IF_ERROR(plan_two(a, a_dims, a_rank, b, b_dims, b_rank, y, &plan));
  if (plan.numel == 0) return cudaSuccess;
  if (dt == DataType::kInt32) {
    return launch_map<2>(
        plan,
        IntArithFn<int32_t>{op, static_cast<const int32_t*>(a), static_cast<const int32_t*>(b),
                            static_cast<int32_t*>(y)},
        stream);
  }
  return launch_map<2>(
      plan,
      IntArithFn<int64_t>{op, static_cast<const int64_t*>(a), static_cast<const int64_t*>(b),
                          static_cast<int64_t*>(y)},
      stream);
}

cudaError_t where(const void* cond, const int64_t* cond_dims, int cond_rank, const void* x,
                  const int64_t* x_dims, int x_rank, const void* y, const int64_t* y_dims,
                  int y_rank, void* out, DataType dt, cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  if (es == 0) return cudaErrorInvalidValue;
  const int64_t* dims[3] = {cond_dims, x_dims, y_dims};
  const int ranks[3] = {cond_rank, x_rank, y_rank};
  BroadcastPlan plan;
  if (!plan_operands(3, dims, ranks, &plan)) return cudaErrorInvalidValue;
  if (plan.numel == 0) return cudaSuccess;
  if (!cond || !x || !y || !out) return cudaErrorInvalidValue;
  const uint8_t* c = static_cast<const uint8_t*>(cond);
  auto run = [&](auto tag) {
    using U = typename decltype(tag)::type;
    return launch_map<3>(
        plan,
        WhereFn<U>{c, static_cast<const U*>(x), static_cast<const U*>(y), static_cast<U*>(out)},
        stream);
  };
  switch (es) {
    case 1:
      return run(TypeTag<uint8_t>{});
    case 2:
      return run(TypeTag<uint16_t>{});
    case 4:
      return run(TypeTag<uint32_t>{});
    case 8:
      return run(TypeTag<unsigned long long>{});
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda
