// kiln.Attention on the GPU. Two kernels:
//
// flash_attention_kernel (fp16/bf16, FlashAttention-2 style). One CTA per (batch·head, block of
// BM query rows), one warp per 16 of those rows. The CTA streams the keys in tiles of BN: Q and K
// tiles come in through cp.async into XOR-swizzled shared memory (conflict-free ldmatrix), the
// warp computes its 16×BN scores with mma.sync m16n8k16 (fp32 accumulation), applies scale, mask
// and causal/out-of-range hiding, keeps the running row max and sum in fp32 registers (online
// softmax, in log2 units so one ex2 per score), turns the probabilities into the A operand of the
// P·V product without touching shared memory, and accumulates O in fp32 registers. K is double
// buffered: tile n+1 is fetched while tile n is used, and V tile n while the scores of tile n are
// computed, so each tile costs two barriers. Head dims other than the template's D run in the
// next larger instantiation with the extra columns zero-filled and their k-steps skipped.
//
// attention_simple_kernel (any dtype kiln.Attention takes here, any dims, any alignment): one
// warp per query row, lanes over keys for the scores and over value columns for P·V, fp32
// arithmetic with accurate expf. It is the float32 path and the fallback.
#include "backends/cuda/kernels/attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <climits>
#include <cstdint>

namespace kiln::cuda {

namespace {

constexpr float kLog2e = 1.4426950408889634f;

// What both kernels read; 32-bit sizes (checked on the host), 64-bit offsets.
struct KernelParams {
  const void* q;
  const void* k;
  const void* v;
  const void* mask;
  void* y;
  int heads, seq_q, seq_k, head_dim, value_dim;
  int batch_heads;   // batch · heads
  int num_q_blocks;  // query-row blocks per batch·head (flash kernel)
  int64_t q_bs, q_rs, k_bs, k_rs, v_bs, v_rs, y_bs, y_rs;
  int64_t ms[4];
  float scale;       // natural units
  float scale_log2;  // scale · log2(e): the flash kernel's unmasked scores go straight to log2 units
  bool causal;
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Two floats as one 32-bit register of two 16-bit values, the first in the low half (the lower
// column, as mma's A fragment and a row-major store want it).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// ---------------------------------------------------------------------------------------------
// PTX wrappers (sm_80+ instructions; kiln builds them for sm_90).

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; zero-fills the destination when !valid (src-size 0
// reads nothing, so src only has to be some address of the tensor).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most `kPending` of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// d += a · b for one 16×8×16 tile: a row-major 16×16, b "col" (16×8 read as its 8 columns), fp32 d.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                          uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x; exact 0 for -inf. Relative error about 2^-22, far below fp16/bf16 rounding.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// ---------------------------------------------------------------------------------------------
// flash_attention_kernel

// Shared tiles are [rows][D] of 16-byte chunks, chunk c of row r stored at chunk c ^ (r % 8): the
// 8 rows one ldmatrix phase reads, or one row's 8 consecutive chunks, then sit in 8 different bank
// groups. D/8, the chunks per row, must be a multiple of 8. Every lane's rows below differ by
// multiples of 8, so r % 8 is fixed per lane and the lane's logical chunks C + c (C even, known
// after unrolling; c its own 0 or 1) map to (C & ~7) + ((C & 7) ^ y) with y = c ^ (r % 8).
__device__ __forceinline__ uint32_t chunk_bytes(int chunk, uint32_t y) {
  return (static_cast<uint32_t>(chunk & ~7) + (static_cast<uint32_t>(chunk & 7) ^ y)) << 4;
}

// cp.async of a ROWS × D tile from global rows base[r · row_stride + c] (r < rows_valid,
// c < cols_valid; cols_valid a multiple of 8) into the swizzled shared tile at byte address
// `tile`; zeros elsewhere (so padding columns and rows past the sequence read as 0).
template <int ROWS, int D, int THREADS, typename T>
__device__ __forceinline__ void load_tile(uint32_t tile, const T* base, int64_t row_stride, int rows_valid,
                                          int cols_valid, int tid) {
  constexpr int kChunksPerRow = D / 8;
  constexpr int kRowsPerPass = THREADS / kChunksPerRow;  // rows all threads cover in one step
  static_assert(D % 64 == 0, "the swizzle permutes groups of 8 chunks");
  static_assert(THREADS % kChunksPerRow == 0 && ROWS % kRowsPerPass == 0, "whole rows per step");
  const int r0 = tid / kChunksPerRow, c = tid % kChunksPerRow;
  const bool col_valid = c * 8 < cols_valid;
  const T* src = base + r0 * row_stride + c * 8;
#pragma unroll
  for (int i = 0; i < ROWS / kRowsPerPass; ++i) {
    const int r = r0 + i * kRowsPerPass;
    const bool valid = col_valid && r < rows_valid;
    const uint32_t dst = tile + static_cast<uint32_t>(r * D * static_cast<int>(sizeof(T))) +
                         (static_cast<uint32_t>(c ^ (r & 7)) << 4);
    cp_async_16(dst, valid ? src : base, valid);
    src += kRowsPerPass * row_stride;
  }
}

template <int D, int BM, int BN, typename T>
constexpr size_t flash_smem_bytes() {
  // Q, two K buffers, V, then two buffers of a key-padding mask tile in fp32.
  return static_cast<size_t>(BM + 3 * BN) * D * sizeof(T) + 2 * BN * sizeof(float);
}

// A masked score in log2 units. A mask of fp32's or bf16's finfo.min leaves a finite score whose
// log2-scaled value overflows; kept at ∓FLT_MAX, a row masked with it everywhere still gets the
// near-uniform weights the unfused softmax gives (all its scores round to the same value) instead
// of turning into a fully masked row.
__device__ __forceinline__ float masked_score_log2(float raw, float scale, float mask_value) {
  // Two fp32 roundings (no fused multiply-add), as the unfused Mul and Add store them.
  const float score = __fadd_rn(__fmul_rn(raw, scale), mask_value);
  float x = score * kLog2e;
  if (fabsf(x) == INFINITY && fabsf(score) != INFINITY) x = copysignf(FLT_MAX, score);
  return x;
}

// How the kernel reads the mask; each its own instantiation, since the mask's addressing costs
// registers that the unmasked kernel needs for occupancy.
enum class MaskMode {
  kNone,
  kPerKey,  // the same for every query row (key padding, [B or 1, H or 1, 1, Sk]): via shared memory
  kPerRow,  // anything else: read per score (from L1/L2)
};

// kMinBlocks: CTAs per SM the register allocation must allow.
template <typename T, int D, int BM, int BN, MaskMode kMask, int kMinBlocks>
__global__ void __launch_bounds__(BM * 2, kMinBlocks) flash_attention_kernel(const KernelParams p) {
  constexpr int kWarps = BM / 16;
  constexpr int kThreads = kWarps * 32;
  constexpr bool kQInRegs = D <= 128;  // beyond that the O accumulators need the registers
  constexpr int kKSteps = D / 16;      // k-steps of Q·Kᵀ over the head dim
  constexpr int kSTiles = BN / 8;      // 8-key column tiles of the scores
  constexpr int kOTiles = D / 8;       // 8-column tiles of the output
  constexpr int kRowBytes = D * static_cast<int>(sizeof(T));
  static_assert(sizeof(T) == 2, "16-bit element types");
  static_assert(BM % 16 == 0 && BN % 16 == 0 && BN <= kThreads, "tiles are whole mma shapes");

  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* const sq = reinterpret_cast<T*>(smem_raw);
  const uint32_t sq_addr = smem_addr(sq);
  const uint32_t sk_addr = sq_addr + BM * kRowBytes;  // two buffers of BN rows
  const uint32_t sv_addr = sk_addr + 2 * BN * kRowBytes;
  float* const smask = reinterpret_cast<float*>(smem_raw + (BM + 3 * BN) * kRowBytes);  // [2][BN]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int group = lane / 4, quad_lane = lane % 4;  // mma fragment coordinates

  const int bh = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.batch_heads));
  int qblock = static_cast<int>(blockIdx.x / static_cast<unsigned>(p.batch_heads));
  if (p.causal) qblock = p.num_q_blocks - 1 - qblock;  // the blocks with the most keys start first
  const int b = bh / p.heads, h = bh % p.heads;
  const int q0 = qblock * BM;
  const int rows_valid = min(BM, p.seq_q - q0);
  const int diag = p.seq_k - p.seq_q;  // query i sees keys j <= i + diag when causal

  const T* qg = static_cast<const T*>(p.q) + b * p.q_bs + q0 * p.q_rs + h * p.head_dim;
  const T* kg = static_cast<const T*>(p.k) + b * p.k_bs + h * p.head_dim;
  const T* vg = static_cast<const T*>(p.v) + b * p.v_bs + h * p.value_dim;
  T* yg = static_cast<T*>(p.y) + b * p.y_bs + q0 * p.y_rs + h * p.value_dim;

  int key_end = p.seq_k;
  if (p.causal) key_end = min(key_end, q0 + rows_valid + diag);  // past the last row's last key
  const int n_tiles = key_end > 0 ? (key_end + BN - 1) / BN : 0;

  constexpr int kChunksPerRow = D / 8;
  if (n_tiles == 0) {  // every row of the block has all its keys masked out: zeros
    for (int idx = tid; idx < BM * kChunksPerRow; idx += kThreads) {
      const int r = idx / kChunksPerRow, c = idx % kChunksPerRow;
      if (r < rows_valid && c * 8 < p.value_dim) *reinterpret_cast<uint4*>(yg + r * p.y_rs + c * 8) = uint4{0, 0, 0, 0};
    }
    return;
  }

  load_tile<BM, D, kThreads>(sq_addr, qg, p.q_rs, rows_valid, p.head_dim, tid);
  load_tile<BN, D, kThreads>(sk_addr, kg, p.k_rs, p.seq_k, p.head_dim, tid);
  cp_async_commit();

  // A mask that is the same for every query row (key padding, [B or 1, H or 1, 1, Sk]) goes
  // through shared memory one key tile ahead, as fp32; any other mask is read per score.
  const T* mask = static_cast<const T*>(p.mask);
  constexpr bool mask_per_key = kMask == MaskMode::kPerKey;
  const int64_t mask_base = kMask != MaskMode::kNone ? b * p.ms[0] + h * p.ms[1] : 0;
  if (mask_per_key && tid < BN) smask[tid] = tid < p.seq_k ? to_float(mask[mask_base + tid * p.ms[3]]) : 0.f;

  // k-steps and 16-column output pairs that touch real columns; the rest are zero padding.
  const int ksteps_used = (p.head_dim + 15) / 16;
  const int opairs_used = (p.value_dim + 15) / 16;

  const int warp_row0 = q0 + warp * 16;  // first query row of this warp

  // ldmatrix addressing: the row each lane points at and its chunk key y (see chunk_bytes).
  //   A (Q, 16 rows × 16 cols): lanes 0-7 rows 0-7 cols 0-7, 8-15 rows 8-15, 16-31 cols 8-15.
  //   B (K, 16 keys × 16 cols): lanes 0-7 keys 0-7, 8-15 the next 8 cols, 16-31 keys 8-15.
  //   B (V, transposed, 16 keys × 16 cols): lanes 8-15 keys 8-15, 16-31 cols 8-15.
  const int a_row = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const uint32_t a_base = sq_addr + a_row * kRowBytes, a_y = (lane >> 4) ^ (lane & 7);
  const uint32_t kb_off = ((lane & 7) + (lane >> 4) * 8) * kRowBytes, kb_y = ((lane >> 3) & 1) ^ (lane & 7);
  const uint32_t vb_off = ((lane & 7) + ((lane >> 3) & 1) * 8) * kRowBytes, vb_y = (lane >> 4) ^ (lane & 7);

  float o[kOTiles][4];
#pragma unroll
  for (int i = 0; i < kOTiles; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float row_max[2] = {-INFINITY, -INFINITY};  // rows group and group + 8, log2 units
  float row_sum[2] = {0.f, 0.f};              // this lane's part; the quad's sum at the end
  uint32_t qf[kQInRegs ? kKSteps : 1][4];

  for (int n = 0; n < n_tiles; ++n) {
    const int key0 = n * BN;
    cp_async_wait<0>();  // K tile n (and Q) landed
    __syncthreads();     // ... for every thread; and everyone is done with V tile n-1 and K tile n-1
    if (kQInRegs && n == 0) {
#pragma unroll
      for (int kk = 0; kk < (kQInRegs ? kKSteps : 0); ++kk) ldmatrix_x4(qf[kk], a_base + chunk_bytes(2 * kk, a_y));
    }
    load_tile<BN, D, kThreads>(sv_addr, vg + key0 * p.v_rs, p.v_rs, p.seq_k - key0, p.value_dim, tid);
    cp_async_commit();
    const bool more = n + 1 < n_tiles;
    if (more) {
      load_tile<BN, D, kThreads>(sk_addr + ((n + 1) & 1) * BN * kRowBytes, kg + (key0 + BN) * p.k_rs, p.k_rs,
                                 p.seq_k - key0 - BN, p.head_dim, tid);
    }
    cp_async_commit();  // possibly empty: keeps the group count the waits assume
    // The next tile's key-padding mask: loaded now, stored after the scores (its latency hidden).
    float next_mask = 0.f;
    const int next_col = key0 + BN + tid;
    if (mask_per_key && more && tid < BN && next_col < p.seq_k) next_mask = to_float(mask[mask_base + next_col * p.ms[3]]);

    // A warp whose rows are all past the sequence, or all before this tile's first key (causal),
    // has nothing to add.
    const bool warp_active = warp_row0 < p.seq_q && (!p.causal || key0 <= warp_row0 + 15 + diag);
    float s[kSTiles][4];
    if (warp_active) {
      const uint32_t skn = sk_addr + (n & 1) * BN * kRowBytes + kb_off;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        if (kk < ksteps_used) {
          uint32_t a[4];
          if constexpr (kQInRegs) {
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = qf[kk][i];
          } else {
            ldmatrix_x4(a, a_base + chunk_bytes(2 * kk, a_y));
          }
#pragma unroll
          for (int np = 0; np < kSTiles / 2; ++np) {
            uint32_t bk[4];
            ldmatrix_x4(bk, skn + np * 16 * kRowBytes + chunk_bytes(2 * kk, kb_y));
            mma_16816<T>(s[2 * np], a, bk[0], bk[1]);
            mma_16816<T>(s[2 * np + 1], a, bk[2], bk[3]);
          }
        }
      }

      // Scores in log2 units, with hidden keys at -inf. Only a tile that reaches past the keys or
      // the causal diagonal of the warp's first row needs the per-score checks.
      const bool check_keys = key0 + BN > p.seq_k || (p.causal && key0 + BN - 1 > warp_row0 + diag);
      const float* smask_n = smask + (n & 1) * BN;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt) {
        float2 key_mask = make_float2(0.f, 0.f);
        if (mask_per_key) key_mask = *reinterpret_cast<const float2*>(smask_n + nt * 8 + 2 * quad_lane);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x;
          if constexpr (kMask == MaskMode::kNone) {
            x = s[nt][e] * p.scale_log2;
          } else {
            float mv = (e & 1) ? key_mask.y : key_mask.x;
            if constexpr (kMask == MaskMode::kPerRow) {
              const int row = warp_row0 + group + (e >> 1) * 8;
              const int col = key0 + nt * 8 + 2 * quad_lane + (e & 1);
              mv = row < p.seq_q && col < p.seq_k ? to_float(mask[mask_base + row * p.ms[2] + col * p.ms[3]]) : 0.f;
            }
            x = masked_score_log2(s[nt][e], p.scale, mv);
          }
          s[nt][e] = x;
        }
      }
      if (check_keys) {  // a separate pass, so the common full tiles skip the index arithmetic
#pragma unroll
        for (int nt = 0; nt < kSTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int row = warp_row0 + group + (e >> 1) * 8;
            const int col = key0 + nt * 8 + 2 * quad_lane + (e & 1);
            if (col >= p.seq_k || (p.causal && col > row + diag)) s[nt][e] = -INFINITY;
          }
        }
      }

      // Online softmax for the lane's two rows; the four lanes of a quad share a row.
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kSTiles; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float new_max = fmaxf(row_max[r], mx);
        // While every key so far is hidden the max is -inf; shifting by 0 then keeps exp2 at 0
        // instead of the NaN of -inf - -inf.
        const float shift = new_max == -INFINITY ? 0.f : new_max;
        const float rescale = fast_exp2(row_max[r] - shift);
        row_max[r] = new_max;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kSTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float prob = fast_exp2(s[nt][2 * r + e] - shift);
            s[nt][2 * r + e] = prob;
            sum += prob;
          }
        }
        row_sum[r] = row_sum[r] * rescale + sum;
#pragma unroll
        for (int ot = 0; ot < kOTiles; ++ot) {
          o[ot][2 * r] *= rescale;
          o[ot][2 * r + 1] *= rescale;
        }
      }
    }
    // Tile n+1's mask buffer was last read in iteration n-1, before the barrier above.
    if (mask_per_key && more && tid < BN) smask[((n + 1) & 1) * BN + tid] = next_mask;

    cp_async_wait<1>();  // V tile n landed (K tile n+1 may still be in flight)
    __syncthreads();     // ... for every thread, and tile n+1's mask is stored
    if (warp_active) {
      const uint32_t svn = sv_addr + vb_off;
#pragma unroll
      for (int j = 0; j < BN / 16; ++j) {
        // The score accumulators of key tiles 2j and 2j+1 are exactly the A fragment of k-step j.
        const uint32_t a[4] = {pack2<T>(s[2 * j][0], s[2 * j][1]), pack2<T>(s[2 * j][2], s[2 * j][3]),
                               pack2<T>(s[2 * j + 1][0], s[2 * j + 1][1]),
                               pack2<T>(s[2 * j + 1][2], s[2 * j + 1][3])};
#pragma unroll
        for (int dp = 0; dp < kOTiles / 2; ++dp) {
          if (dp < opairs_used) {
            uint32_t bv[4];
            ldmatrix_x4_trans(bv, svn + j * 16 * kRowBytes + chunk_bytes(2 * dp, vb_y));
            mma_16816<T>(o[2 * dp], a, bv[0], bv[1]);
            mma_16816<T>(o[2 * dp + 1], a, bv[2], bv[3]);
          }
        }
      }
    }
  }

  // Normalize and write through the warp's own rows of the Q tile (no other warp reads them, and
  // no copy is in flight into Q), then store 16-byte chunks, row by row.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float total = row_sum[r];
    total += __shfl_xor_sync(0xffffffffu, total, 1);
    total += __shfl_xor_sync(0xffffffffu, total, 2);
    const float inv = total > 0.f ? 1.f / total : 0.f;  // all keys masked out: zeros
    unsigned char* row_ptr = smem_raw + (warp * 16 + group + r * 8) * kRowBytes + 4 * quad_lane;
#pragma unroll
    for (int ot = 0; ot < kOTiles; ++ot) {
      *reinterpret_cast<uint32_t*>(row_ptr + chunk_bytes(ot, group)) =
          pack2<T>(o[ot][2 * r] * inv, o[ot][2 * r + 1] * inv);
    }
  }
  __syncwarp();
  for (int idx = lane; idx < 16 * kChunksPerRow; idx += 32) {
    const int r = idx / kChunksPerRow, c = idx % kChunksPerRow;
    const int row = warp * 16 + r;
    if (row < rows_valid && c * 8 < p.value_dim) {
      *reinterpret_cast<uint4*>(yg + row * p.y_rs + c * 8) =
          *reinterpret_cast<const uint4*>(sq + row * D + ((c ^ (row & 7)) << 3));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention_simple_kernel

constexpr int kSimpleWarps = 4;

template <typename T>
__global__ void __launch_bounds__(kSimpleWarps * 32) attention_simple_kernel(const KernelParams p) {
  extern __shared__ float simple_smem[];  // per warp: q row [head_dim], output row [value_dim]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row_id = static_cast<int64_t>(blockIdx.x) * kSimpleWarps + warp;
  if (row_id >= static_cast<int64_t>(p.batch_heads) * p.seq_q) return;  // whole warps; no block barrier below
  const int i = static_cast<int>(row_id % p.seq_q);
  const int bh = static_cast<int>(row_id / p.seq_q);
  const int b = bh / p.heads, h = bh % p.heads;

  const T* qr = static_cast<const T*>(p.q) + b * p.q_bs + i * p.q_rs + static_cast<int64_t>(h) * p.head_dim;
  const T* kg = static_cast<const T*>(p.k) + b * p.k_bs + static_cast<int64_t>(h) * p.head_dim;
  const T* vg = static_cast<const T*>(p.v) + b * p.v_bs + static_cast<int64_t>(h) * p.value_dim;
  T* yr = static_cast<T*>(p.y) + b * p.y_bs + i * p.y_rs + static_cast<int64_t>(h) * p.value_dim;
  const T* mask = static_cast<const T*>(p.mask);
  const int64_t mask_row = mask ? b * p.ms[0] + h * p.ms[1] + i * p.ms[2] : 0;

  float* qs = simple_smem + static_cast<size_t>(warp) * (p.head_dim + p.value_dim);
  float* os = qs + p.head_dim;
  for (int d = lane; d < p.head_dim; d += 32) qs[d] = to_float(qr[d]);
  for (int d = lane; d < p.value_dim; d += 32) os[d] = 0.f;
  __syncwarp();

  const int key_end = p.causal ? min(p.seq_k, i + p.seq_k - p.seq_q + 1) : p.seq_k;
  float row_max = -INFINITY, row_sum = 0.f;
  for (int j0 = 0; j0 < key_end; j0 += 32) {
    const int j = j0 + lane;
    float score = -INFINITY;
    if (j < key_end) {
      const T* kr = kg + j * p.k_rs;
      float dot = 0.f;
      for (int d = 0; d < p.head_dim; ++d) dot = fmaf(qs[d], to_float(kr[d]), dot);
      score = __fmul_rn(dot, p.scale);  // rounded to fp32, then the mask added, as unfused
      if (mask) score = __fadd_rn(score, to_float(mask[mask_row + j * p.ms[3]]));
    }
    float mx = score;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    const float new_max = fmaxf(row_max, mx);
    const float shift = new_max == -INFINITY ? 0.f : new_max;  // see the flash kernel
    const float rescale = expf(row_max - shift);
    const float prob = expf(score - shift);
    float sum = prob;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    row_sum = row_sum * rescale + sum;
    row_max = new_max;
    const int count = min(32, key_end - j0);
    for (int d0 = 0; d0 < p.value_dim; d0 += 32) {  // uniform bounds: every lane shuffles
      const int d = d0 + lane;
      const bool active = d < p.value_dim;
      float acc = active ? os[d] * rescale : 0.f;
      for (int jj = 0; jj < count; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, prob, jj);
        if (active) acc = fmaf(pj, to_float(vg[(j0 + jj) * p.v_rs + d]), acc);
      }
      if (active) os[d] = acc;
    }
  }
  const float inv = row_sum > 0.f ? 1.f / row_sum : 0.f;  // all keys masked out: zeros
  for (int d = lane; d < p.value_dim; d += 32) yr[d] = from_float<T>(os[d] * inv);
}

// ---------------------------------------------------------------------------------------------
// Host side

// cudaFuncSetAttribute once per kernel and device (a bit per device id).
cudaError_t allow_dynamic_smem(const void* kernel, std::atomic<uint64_t>& done, size_t bytes) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  const uint64_t bit = device < 64 ? uint64_t{1} << device : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit) != 0) return cudaSuccess;
  err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  if (err == cudaSuccess && bit != 0) done.fetch_or(bit, std::memory_order_acq_rel);
  return err;
}

int multiprocessor_count() {
  static std::atomic<int> cached[64];  // by device id; 0 = not read yet
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 1;
  if (device < 64) {
    const int known = cached[device].load(std::memory_order_relaxed);
    if (known > 0) return known;
  }
  int count = 0;
  if (cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || count < 1) return 1;
  if (device < 64) cached[device].store(count, std::memory_order_relaxed);
  return count;
}

template <typename T, int D, int BM, int BN, MaskMode kMask, int kMinBlocks>
cudaError_t launch_flash_kernel(KernelParams kp, cudaStream_t stream) {
  constexpr size_t smem = flash_smem_bytes<D, BM, BN, T>();
  const auto kernel = flash_attention_kernel<T, D, BM, BN, kMask, kMinBlocks>;
  if (smem > 48 * 1024) {
    static std::atomic<uint64_t> done{0};
    const cudaError_t err = allow_dynamic_smem(reinterpret_cast<const void*>(kernel), done, smem);
    if (err != cudaSuccess) return err;
  }
  kp.num_q_blocks = (kp.seq_q + BM - 1) / BM;
  const int64_t blocks = static_cast<int64_t>(kp.num_q_blocks) * kp.batch_heads;
  if (blocks > INT_MAX) return cudaErrorInvalidValue;
  kernel<<<static_cast<unsigned>(blocks), BM * 2, smem, stream>>>(kp);
  return cudaGetLastError();
}

// kMinBlocks caps the registers at 64K / (threads · kMinBlocks): head dim 64 fits 128 registers
// without spilling (2 CTAs of 256 threads or 4 of 128 per SM) unless the mask is per row; head
// dim 128 needs about 200-220, so one CTA of 256 threads or two of 128 (ptxas -v, CUDA 13.0).
template <typename T, int D, int BM, int BN, int kMinBlocks>
cudaError_t launch_flash(const KernelParams& kp, cudaStream_t stream) {
  if (kp.mask == nullptr) return launch_flash_kernel<T, D, BM, BN, MaskMode::kNone, kMinBlocks>(kp, stream);
  if (kp.ms[2] == 0) return launch_flash_kernel<T, D, BM, BN, MaskMode::kPerKey, kMinBlocks>(kp, stream);
  return launch_flash_kernel<T, D, BM, BN, MaskMode::kPerRow, (kMinBlocks > 1 ? kMinBlocks / 2 : 1)>(kp, stream);
}

// 128-row blocks when there are enough of them for two per SM, else 64 rows for twice the CTAs
// (BERT at batch 1: 12 heads × 128 rows is 12 CTAs of 128 rows, 24 of 64). An explicit
// block_rows wins.
template <typename T, int D>
cudaError_t launch_flash_rows(const KernelParams& kp, int block_rows, cudaStream_t stream) {
  if (block_rows == 0) {
    const int64_t big_blocks = static_cast<int64_t>(kp.batch_heads) * ((kp.seq_q + 127) / 128);
    block_rows = big_blocks >= 2 * static_cast<int64_t>(multiprocessor_count()) ? 128 : 64;
  }
  constexpr int kMin128 = D <= 64 ? 2 : 1, kMin64 = D <= 64 ? 4 : 2;
  if (block_rows == 128) return launch_flash<T, D, 128, 64, kMin128>(kp, stream);
  return launch_flash<T, D, 64, 64, kMin64>(kp, stream);
}

template <typename T>
cudaError_t launch_flash_dtype(const KernelParams& kp, int block_rows, cudaStream_t stream) {
  const int dim = std::max(kp.head_dim, kp.value_dim);
  if (dim <= 64) return launch_flash_rows<T, 64>(kp, block_rows, stream);
  if (dim <= 128) return launch_flash_rows<T, 128>(kp, block_rows, stream);
  // 256 columns of fp32 output per row leave room for 16 rows per warp and 32-key tiles only.
  return launch_flash<T, 256, 64, 32, 2>(kp, stream);
}

template <typename T>
cudaError_t launch_simple(const KernelParams& kp, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(kSimpleWarps) * (kp.head_dim + kp.value_dim) * sizeof(float);
  const auto kernel = attention_simple_kernel<T>;
  if (smem > 48 * 1024) {
    int device = 0, optin = 0;
    cudaError_t err = cudaGetDevice(&device);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (err != cudaSuccess) return err;
    if (smem > static_cast<size_t>(optin)) return cudaErrorInvalidValue;  // dims in the thousands
    err = cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  const int64_t rows = static_cast<int64_t>(kp.batch_heads) * kp.seq_q;
  const int64_t blocks = (rows + kSimpleWarps - 1) / kSimpleWarps;
  if (blocks > INT_MAX) return cudaErrorInvalidValue;
  kernel<<<static_cast<unsigned>(blocks), kSimpleWarps * 32, smem, stream>>>(kp);
  return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

AttentionProblem dense_attention_problem(const void* q, const void* k, const void* v, void* y, int64_t batch,
                                         int64_t heads, int64_t seq_q, int64_t seq_k, int64_t head_dim,
                                         int64_t value_dim) {
  AttentionProblem p;
  p.q = q;
  p.k = k;
  p.v = v;
  p.y = y;
  p.batch = batch;
  p.heads = heads;
  p.seq_q = seq_q;
  p.seq_k = seq_k;
  p.head_dim = head_dim;
  p.value_dim = value_dim;
  p.q_row_stride = heads * head_dim;
  p.q_batch_stride = seq_q * p.q_row_stride;
  p.k_row_stride = heads * head_dim;
  p.k_batch_stride = seq_k * p.k_row_stride;
  p.v_row_stride = heads * value_dim;
  p.v_batch_stride = seq_k * p.v_row_stride;
  p.y_row_stride = heads * value_dim;
  p.y_batch_stride = seq_q * p.y_row_stride;
  return p;
}

AttentionProblem packed_qkv_attention_problem(const void* qkv, void* y, DataType dtype, int64_t batch, int64_t heads,
                                              int64_t seq, int64_t head_dim) {
  const int64_t hidden = heads * head_dim;
  const int64_t elem = dtype == DataType::kFloat32 ? 4 : 2;  // `attention` refuses other dtypes
  // No offset into an empty (possibly null) buffer.
  const bool empty = qkv == nullptr || batch * seq * hidden == 0;
  const auto* base = static_cast<const unsigned char*>(qkv);
  AttentionProblem p = dense_attention_problem(qkv, empty ? qkv : base + hidden * elem,
                                               empty ? qkv : base + 2 * hidden * elem, y, batch, heads, seq, seq,
                                               head_dim, head_dim);
  p.q_row_stride = p.k_row_stride = p.v_row_stride = 3 * hidden;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = seq * 3 * hidden;
  return p;
}

bool attention_uses_tensor_cores(const AttentionProblem& p, DataType dtype) {
  if (dtype != DataType::kFloat16 && dtype != DataType::kBFloat16) return false;
  const auto dim_ok = [](int64_t d) { return d >= 8 && d <= 256 && d % 8 == 0; };
  if (!dim_ok(p.head_dim) || !dim_ok(p.value_dim)) return false;
  // cp.async and the 16-byte output stores move 8 elements at a time.
  for (const int64_t stride : {p.q_batch_stride, p.q_row_stride, p.k_batch_stride, p.k_row_stride, p.v_batch_stride,
                               p.v_row_stride, p.y_batch_stride, p.y_row_stride}) {
    if (stride % 8 != 0) return false;
  }
  return aligned16(p.q) && aligned16(p.k) && aligned16(p.v) && aligned16(p.y);
}

cudaError_t attention(const AttentionProblem& p, DataType dtype, cudaStream_t stream) {
  if (p.batch < 0 || p.heads < 0 || p.seq_q < 0 || p.seq_k < 0 || p.head_dim < 0 || p.value_dim < 0) {
    return cudaErrorInvalidValue;
  }
  if (dtype != DataType::kFloat16 && dtype != DataType::kBFloat16 && dtype != DataType::kFloat32) {
    return cudaErrorInvalidValue;
  }
  if (p.batch == 0 || p.heads == 0 || p.seq_q == 0 || p.value_dim == 0) return cudaSuccess;  // Y is empty
  if (p.block_rows != 0 && p.block_rows != 64 && p.block_rows != 128) return cudaErrorInvalidValue;
  if (p.batch * p.heads > INT_MAX || p.seq_q > INT_MAX || p.seq_k > INT_MAX || p.head_dim > INT_MAX ||
      p.value_dim > INT_MAX || p.heads > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr || p.y == nullptr) return cudaErrorInvalidValue;

  KernelParams kp{};
  kp.q = p.q;
  kp.k = p.k;
  kp.v = p.v;
  kp.mask = p.mask;
  kp.y = p.y;
  kp.heads = static_cast<int>(p.heads);
  kp.seq_q = static_cast<int>(p.seq_q);
  kp.seq_k = static_cast<int>(p.seq_k);
  kp.head_dim = static_cast<int>(p.head_dim);
  kp.value_dim = static_cast<int>(p.value_dim);
  kp.batch_heads = static_cast<int>(p.batch * p.heads);
  kp.q_bs = p.q_batch_stride;
  kp.q_rs = p.q_row_stride;
  kp.k_bs = p.k_batch_stride;
  kp.k_rs = p.k_row_stride;
  kp.v_bs = p.v_batch_stride;
  kp.v_rs = p.v_row_stride;
  kp.y_bs = p.y_batch_stride;
  kp.y_rs = p.y_row_stride;
  for (int d = 0; d < 4; ++d) kp.ms[d] = p.mask ? p.mask_strides[d] : 0;
  kp.scale = p.scale;
  kp.scale_log2 = p.scale * kLog2e;
  kp.causal = p.causal;

  if (attention_uses_tensor_cores(p, dtype)) {
    if (dtype == DataType::kFloat16) return launch_flash_dtype<__half>(kp, p.block_rows, stream);
    return launch_flash_dtype<__nv_bfloat16>(kp, p.block_rows, stream);
  }
  switch (dtype) {
    case DataType::kFloat16: return launch_simple<__half>(kp, stream);
    case DataType::kBFloat16: return launch_simple<__nv_bfloat16>(kp, stream);
    default: return launch_simple<float>(kp, stream);
  }
}

}  // namespace kiln::cuda
