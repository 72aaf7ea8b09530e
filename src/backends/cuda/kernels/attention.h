// kiln.Attention on the GPU (docs/fused_ops.md): per batch b and head h,
//   S = scale · Q[b, :, h] @ K[b, :, h]ᵀ + mask[b, h]   (causally hidden keys: −∞)
//   Y[b, :, h] = softmax(S over keys) @ V[b, :, h]
// Heads sit side by side in the last dim of Q, K, V and Y (head h starts at column h·head_dim of Q
// and K and at h·value_dim of V and Y), so the exporters' head split and merge cost nothing.
//
// fp16 and bf16 with head and value dims that are multiples of 8 (up to 256) and 16-byte aligned
// rows run a FlashAttention-2 style kernel: one CTA per (batch·head, block of query rows), K and V
// tiles streamed through shared memory with cp.async, online softmax in fp32 registers, mma.sync
// m16n8k16 tensor-core products with fp32 accumulation. Everything else (float32, odd dims,
// unaligned views) runs a plain fp32-arithmetic kernel that gives the same results more slowly.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

struct AttentionProblem {
  // Device pointers of the problem's dtype. mask is null when there is none.
  const void* q = nullptr;  // [B, Sq, H·head_dim] (as strided rows, see below)
  const void* k = nullptr;  // [B, Sk, H·head_dim]
  const void* v = nullptr;  // [B, Sk, H·value_dim]
  const void* mask = nullptr;  // additive, read at b·mask_strides[0] + h·[1] + i·[2] + j·[3]
  void* y = nullptr;        // [B, Sq, H·value_dim]

  int64_t batch = 0, heads = 0, seq_q = 0, seq_k = 0, head_dim = 0, value_dim = 0;

  // Strides in elements between batches and between sequence rows of each tensor. Dense tensors
  // have row stride H·dim and batch stride S·H·dim (dense_attention_problem fills them); a fused
  // QKV projection's output can be read in place by giving Q, K and V its wider row stride.
  int64_t q_batch_stride = 0, q_row_stride = 0;
  int64_t k_batch_stride = 0, k_row_stride = 0;
  int64_t v_batch_stride = 0, v_row_stride = 0;
  int64_t y_batch_stride = 0, y_row_stride = 0;

  // The mask viewed as [B, H, Sq, Sk]: 0 along a dim it broadcasts over (the numpy-style
  // broadcast of a mask of rank <= 4, e.g. a key-padding mask [B, 1, 1, Sk] has {Sk, 0, 0, 1}).
  int64_t mask_strides[4] = {0, 0, 0, 0};

  float scale = 1.0f;   // the caller resolves the default 1/sqrt(head_dim)
  bool causal = false;  // key j hidden from query i when j > i + Sk - Sq

  // Query rows per CTA of the tensor-core kernel: 64 or 128, or 0 to let `attention` pick (128
  // when those CTAs alone fill the GPU). A tile shape for the auto-tuner to time.
  int block_rows = 0;
};

// Q, K, V, Y dense ([B, S, H·D] row-major); the mask and scale are left for the caller to set.
AttentionProblem dense_attention_problem(const void* q, const void* k, const void* v, void* y, int64_t batch,
                                         int64_t heads, int64_t seq_q, int64_t seq_k, int64_t head_dim,
                                         int64_t value_dim);

// Q, K and V as the column ranges [0, E), [E, 2E), [2E, 3E) of one packed QKV [B, S, 3E] (E =
// heads·head_dim, a merged QKV projection's output) read in place with row stride 3E, Y dense
// [B, S, E]; dtype (kFloat32, kFloat16 or kBFloat16) gives the byte offsets of K and V. The mask
// and scale are left for the caller to set.
AttentionProblem packed_qkv_attention_problem(const void* qkv, void* y, DataType dtype, int64_t batch, int64_t heads,
                                              int64_t seq, int64_t head_dim);

// True when `attention` takes the tensor-core path for this problem (fp16/bf16, dims multiples of
// 8 up to 256, 16-byte aligned rows); false means the slower fp32-arithmetic kernel.
bool attention_uses_tensor_cores(const AttentionProblem& p, DataType dtype);

// Enqueues the attention on `stream`. dtype is kFloat16, kBFloat16 or kFloat32 (Q, K, V, mask and Y
// share it). Returns cudaErrorInvalidValue for a bad problem (negative sizes, another dtype, heads
// < 1 with work to do), otherwise the launch's error. A query row whose keys are all masked out
// (−∞) gets zeros. Empty problems launch nothing.
cudaError_t attention(const AttentionProblem& p, DataType dtype, cudaStream_t stream);

}  // namespace kiln::cuda
