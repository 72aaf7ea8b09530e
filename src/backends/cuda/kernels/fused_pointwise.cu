#include <limits>

#include "backends/cuda/kernels/fused_pointwise.h"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T, typename Index>
struct FusedArgs {
  FusedPointwiseProgram program;
  const T* x;
  T* y;
  const T* operands[kMaxFusedOperands];  // E1 at 0
  StridedLayout<Index, kMaxFusedOperands> layout;
  Index packs;  // work items: packs of kStep elements along the innermost dim
  Index numel;
};

// Runs the program on the kAccess<T, kVec> elements from output element idx (its index along each
// dim) on, whose X values are in v. The step list, the operand pointers and their strides are read
// from the kernel's parameter space (__grid_constant__), so indexing them at run time costs no
// local memory; v and idx are indexed with compile-time offsets only.
template <typename T, typename Index, bool kVec>
__device__ __forceinline__ void run_program(const FusedArgs<T, Index>& a,
                                            const Index (&idx)[kMaxRank], float* v) {
  constexpr int kStep = kAccess<T, kVec>;
  const int inner = a.layout.rank - 1;
  for (int s = 0; s < a.program.num_steps; ++s) {
    const FusedStep& step = a.program.steps[s];
    if (step.operand == 0) {
#pragma unroll
      for (int i = 0; i < kStep; ++i) v[i] = round_to<T>(unary_op<T>(step.unary, v[i]));
      continue;
    }
    const int k = step.operand - 1;
    Index offset = 0;
#pragma unroll
    for (int d = 0; d < kMaxRank; ++d) {
      if (d < a.layout.rank) offset += idx[d] * a.layout.strides[k][d];
    }
    float e[kStep];
    load_operand<T, kVec>(a.operands[k] + offset, a.layout.strides[k][inner] != 0, e);
    if (step.swapped) {
#pragma unroll
      for (int i = 0; i < kStep; ++i) v[i] = round_to<T>(binary_op(step.binary, e[i], v[i]));
    } else {
#pragma unroll
      for (int i = 0; i < kStep; ++i) v[i] = round_to<T>(binary_op(step.binary, v[i], e[i]));
    }
  }
}

// With kVec the innermost dim is a whole number of packs, or the layout has rank 1 and the last
// numel % kStep elements are the tail.
template <typename T, typename Index, bool kVec>
__global__ void fused_pointwise_kernel(const __grid_constant__ FusedArgs<T, Index> args) {
  constexpr int kStep = kAccess<T, kVec>;
  for (Index p = blockIdx.x * blockDim.x + threadIdx.x; p < args.packs;
       p += gridDim.x * blockDim.x) {
    const Index e = p * kStep;
    Index idx[kMaxRank];
    unravel(args.layout.dims, args.layout.rank, e, idx);
    float v[kStep];
    load_access<T, kVec>(args.x + e, v);
    run_program<T, Index, kVec>(args, idx, v);
    store_access<T, kVec>(args.y + e, v);
  }
  if constexpr (kVec) {
    const int64_t i = tail_index(args.packs, kStep);
    if (i < args.numel) {
      Index idx[kMaxRank];
      unravel(args.layout.dims, args.layout.rank, static_cast<Index>(i), idx);
      float v[1] = {load_f32(args.x + i)};
      run_program<T, Index, false>(args, idx, v);
      store_f32(args.y + i, v[0]);
    }
  }
}

template <typename T, typename Index, bool kVec>
cudaError_t launch_fused(const FusedPointwiseProgram& program, const T* x,
                         const void* const* operands, int num_operands, T* y,
                         const BroadcastPlan& plan, cudaStream_t stream) {
  FusedArgs<T, Index> args{};
  args.program = program;
  args.x = x;
  args.y = y;
  for (int k = 0; k < num_operands; ++k) args.operands[k] = static_cast<const T*>(operands[k]);
  args.layout = strided_layout<Index, kMaxFusedOperands>(plan);
  args.numel = static_cast<Index>(plan.numel);
  args.packs = static_cast<Index>(plan.numel / kAccess<T, kVec>);
  fused_pointwise_kernel<T, Index, kVec>
      <<<grid_blocks(args.packs, kThreads), kThreads, 0, stream>>>(args);
  return launch_error();
}

}  // namespace

cudaError_t fused_pointwise(const FusedPointwiseProgram& program, const void* x,
                            const int64_t* dims, int rank, const void* const* operands,
                            const int64_t* const* operand_dims, const int* operand_ranks,
                            int num_operands, void* y, DataType dt, cudaStream_t stream) {
  if (program.num_steps < 0 || program.num_steps > kMaxFusedSteps) return cudaErrorInvalidValue;
  if (num_operands < 0 || num_operands > kMaxFusedOperands) return cudaErrorInvalidValue;
  for (int s = 0; s < program.num_steps; ++s) {
    const FusedStep& step = program.steps[s];
    if (step.operand > num_operands || (step.operand == 0 && step.swapped))
      return cudaErrorInvalidValue;
  }
  BroadcastPlan plan;
  if (!plan_broadcast(dims, rank, operand_dims, operand_ranks, num_operands, &plan))
    return cudaErrorInvalidValue;
  if (plan.numel == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  for (int k = 0; k < num_operands; ++k) {
    if (!operands[k]) return cudaErrorInvalidValue;
  }
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x);
    T* py = static_cast<T*>(y);
    // As binary(): 16-byte accesses need x, y and every operand that runs along the innermost
    // dim aligned, and packs that stay within an innermost row.
    const int inner = plan.rank - 1;
    bool vec =
        is_aligned16(x) && is_aligned16(y) && (plan.rank <= 1 || plan.dims[inner] % kPack<T> == 0);
    for (int k = 0; k < num_operands && plan.rank > 0; ++k) {
      if (plan.strides[k][inner] != 0) vec = vec && is_aligned16(operands[k]);
    }
    if (plan.numel <= std::numeric_limits<int32_t>::max()) {
      return vec ? launch_fused<T, uint32_t, true>(program, px, operands, num_operands, py, plan,
                                                   stream)
                 : launch_fused<T, uint32_t, false>(program, px, operands, num_operands, py, plan,
                                                    stream);
    }
    return vec ? launch_fused<T, int64_t, true>(program, px, operands, num_operands, py, plan,
                                                stream)
               : launch_fused<T, int64_t, false>(program, px, operands, num_operands, py, plan,
                                                 stream);
  });
}

}  // namespace kiln::cuda
