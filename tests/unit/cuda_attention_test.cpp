// kiln::cuda::attention (src/backends/cuda/kernels/attention.cu) against a CPU reference in double
// that follows docs/fused_ops.md's kiln.Attention: scores rounded to fp32 after the scale and
// again after the mask, causally hidden keys at -inf, a row with every key masked out gives zeros.
// Inputs are random and non-zero, outputs are poisoned (NaN bytes) before each run, and every CUDA
// call is checked. Covered: both tensor-core tile heights, head dims 64/128 and the padded generic
// ones (Dh != Dv too), sequence lengths 1, 7, 128, 129, 512 and Sq != Sk, batch·heads > 1, causal
// (also Sq > Sk, whose first rows see no key), key-padding masks (rank 2 to 4, -inf and finfo.min,
// fully masked rows), per-row masks, strided views (a packed QKV buffer, a padded output whose gaps
// must stay untouched; packed_qkv_attention_problem's layout, BERT-base packed), and the fp32 /
// fallback kernel (float32, odd dims, unaligned pointers).
// Without a CUDA device the GPU tests skip; the argument checks run anywhere.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/kernels/attention.h"
#include "core/float16.h"
#include "unit/cuda_test_util.h"

namespace kiln::cuda {
namespace {

using ::kiln::test::cuda::DeviceMemory;
using ::kiln::test::cuda::elem_size;
using ::kiln::test::cuda::load_elem;
using ::kiln::test::cuda::round_to;
using ::kiln::test::cuda::store_elem;

class CudaAttentionTest : public ::testing::Test {
 protected:
  void SetUp() override { KILN_SKIP_WITHOUT_CUDA_DEVICE(); }
};

const char* type_name(DataType t) {
  return t == DataType::kFloat32 ? "float32" : (t == DataType::kFloat16 ? "float16" : "bfloat16");
}

// The most negative finite value of the dtype, an exporter's "masked" constant.
float finfo_min(DataType t) {
  if (t == DataType::kFloat16) return -65504.f;
  if (t == DataType::kBFloat16) return bf16_bits_to_float(0xff7f);
  return -std::numeric_limits<float>::max();
}

enum class MaskKind {
  kNone,
  kKeyPadding,     // [B, 1, 1, Sk]: padded tail per batch, batch 1 fully masked, random values elsewhere
  kKeyPaddingMin,  // the same with finfo.min instead of -inf: a fully masked batch averages V
  kKeysOnly,       // [1, Sk] random values, no -inf
  kHeadKeys,       // [H, 1, Sk] random values with some -inf
  kRowsKeys,       // [Sq, Sk] random with some -inf and query row 1 fully masked
  kFull,           // [B, H, Sq, Sk] random with some -inf
};

struct Case {
  std::string name;
  DataType dtype = DataType::kFloat16;
  int64_t B = 1, H = 1, Sq = 1, Sk = 1, Dh = 64, Dv = 64;
  bool causal = false;
  MaskKind mask = MaskKind::kNone;
  float scale = 0.f;  // 0: 1/sqrt(Dh)
  int block_rows = 0;
  bool packed_qkv = false;  // Q, K, V as column ranges of one [B, S, 2E + Ev] buffer (Sq == Sk)
  int64_t y_pad = 0;        // extra elements at the end of each output row, must stay poisoned
  int64_t misalign = 0;     // elements each tensor starts past a 256-byte boundary
  double input_range = 1.0;
  uint64_t seed = 1;
};

struct Tolerance {
  double rel_l2, max_abs;
};
Tolerance tolerance(DataType t) {
  // fp16: the probabilities and the output are rounded to 11 bits (2^-11 ≈ 4.9e-4 each); bf16 to 8.
  if (t == DataType::kFloat16) return {4e-3, 4e-3};
  if (t == DataType::kBFloat16) return {2e-2, 3e-2};
  return {2e-5, 2e-5};
}

// The mask tensor's dims for a kind (rank <= 4, numpy-aligned to [B, H, Sq, Sk]).
std::vector<int64_t> mask_dims(const Case& c) {
  switch (c.mask) {
    case MaskKind::kNone: return {};
    case MaskKind::kKeyPadding:
    case MaskKind::kKeyPaddingMin: return {c.B, 1, 1, c.Sk};
    case MaskKind::kKeysOnly: return {1, c.Sk};
    case MaskKind::kHeadKeys: return {c.H, 1, c.Sk};
    case MaskKind::kRowsKeys: return {c.Sq, c.Sk};
    case MaskKind::kFull: return {c.B, c.H, c.Sq, c.Sk};
  }
  return {};
}

// Strides of the mask viewed as [B, H, Sq, Sk], 0 where it broadcasts.
std::vector<int64_t> mask_view_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(4, 0);
  const int64_t r = static_cast<int64_t>(dims.size());
  int64_t stride = 1;
  for (int64_t d = 3; d >= 0; --d) {
    const int64_t md = d - (4 - r);
    const int64_t size = md >= 0 ? dims[static_cast<size_t>(md)] : 1;
    s[static_cast<size_t>(d)] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return s;
}

std::vector<float> make_mask(const Case& c, const std::vector<int64_t>& dims, std::mt19937_64& rng) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<float> m(static_cast<size_t>(n));
  std::uniform_real_distribution<double> val(-2.0, 2.0);
  std::uniform_int_distribution<int> pick(0, 9);
  const float inf = std::numeric_limits<float>::infinity();
  switch (c.mask) {
    case MaskKind::kNone: break;
    case MaskKind::kKeyPadding:
    case MaskKind::kKeyPaddingMin: {
      const float masked = c.mask == MaskKind::kKeyPadding ? -inf : finfo_min(c.dtype);
      for (int64_t b = 0; b < c.B; ++b) {
        // batch 0: the last third padded; batch 1: everything; others: random additive values.
        const int64_t valid = b == 0 ? c.Sk - c.Sk / 3 : (b == 1 ? 0 : c.Sk);
        for (int64_t j = 0; j < c.Sk; ++j) {
          m[static_cast<size_t>(b * c.Sk + j)] = j < valid ? (b >= 2 ? static_cast<float>(val(rng)) : 0.f) : masked;
        }
      }
      break;
    }
    case MaskKind::kKeysOnly:
      for (auto& x : m) x = static_cast<float>(val(rng));
      break;
    case MaskKind::kHeadKeys:
    case MaskKind::kFull:
      for (auto& x : m) x = pick(rng) == 0 ? -inf : static_cast<float>(val(rng));
      break;
    case MaskKind::kRowsKeys:
      for (int64_t i = 0; i < c.Sq; ++i) {
        for (int64_t j = 0; j < c.Sk; ++j) {
          m[static_cast<size_t>(i * c.Sk + j)] = (i == 1 || pick(rng) == 0) ? -inf : static_cast<float>(val(rng));
        }
      }
      break;
  }
  for (auto& x : m) x = round_to(c.dtype, x);
  return m;
}

// kiln.Attention in double on dense [B, S, H·D] inputs (already rounded to the dtype).
std::vector<double> reference(const Case& c, float scale, const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, const std::vector<float>& mask,
                              const std::vector<int64_t>& ms) {
  const int64_t E = c.H * c.Dh, Ev = c.H * c.Dv;
  std::vector<double> y(static_cast<size_t>(c.B * c.Sq * Ev), 0.0);
  std::vector<double> s(static_cast<size_t>(c.Sk));
  const double neg_inf = -std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t h = 0; h < c.H; ++h) {
      for (int64_t i = 0; i < c.Sq; ++i) {
        double mx = neg_inf;
        for (int64_t j = 0; j < c.Sk; ++j) {
          if (c.causal && j > i + c.Sk - c.Sq) {
            s[static_cast<size_t>(j)] = neg_inf;
            continue;
          }
          double dot = 0;
          for (int64_t d = 0; d < c.Dh; ++d) {
            dot += static_cast<double>(q[static_cast<size_t>((b * c.Sq + i) * E + h * c.Dh + d)]) *
                   static_cast<double>(k[static_cast<size_t>((b * c.Sk + j) * E + h * c.Dh + d)]);
          }
          float sc = static_cast<float>(static_cast<double>(scale) * dot);
          if (!mask.empty()) sc = sc + mask[static_cast<size_t>(b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3])];
          s[static_cast<size_t>(j)] = sc;
          mx = std::max(mx, static_cast<double>(sc));
        }
        if (mx == neg_inf) continue;  // every key masked out: zeros
        double sum = 0;
        for (auto& x : s) sum += (x = std::exp(x - mx));
        for (int64_t j = 0; j < c.Sk; ++j) {
          const double p = s[static_cast<size_t>(j)] / sum;
          if (p == 0) continue;
          for (int64_t d = 0; d < c.Dv; ++d) {
            y[static_cast<size_t>((b * c.Sq + i) * Ev + h * c.Dv + d)] +=
                p * v[static_cast<size_t>((b * c.Sk + j) * Ev + h * c.Dv + d)];
          }
        }
      }
    }
  }
  return y;
}

// Rows (b, i, h) whose keys are all masked out, which must come back as exact zeros.
bool row_fully_masked(const Case& c, const std::vector<float>& mask, const std::vector<int64_t>& ms, int64_t b,
                      int64_t h, int64_t i) {
  for (int64_t j = 0; j < c.Sk; ++j) {
    if (c.causal && j > i + c.Sk - c.Sq) continue;
    if (mask.empty() || !std::isinf(mask[static_cast<size_t>(b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3])])) {
      return false;
    }
  }
  return true;
}

// Host image of a strided tensor: `rows` rows of `width` elements at `row_stride`, from `offset`.
struct HostImage {
  std::vector<unsigned char> bytes;
  void put(DataType t, const std::vector<float>& dense, int64_t rows, int64_t width, int64_t row_stride,
           int64_t offset) {
    const size_t es = elem_size(t);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t x = 0; x < width; ++x) {
        store_elem(t, dense[static_cast<size_t>(r * width + x)],
                   bytes.data() + static_cast<size_t>(offset + r * row_stride + x) * es);
      }
    }
  }
};

void fill_random(std::vector<float>& x, DataType t, double range, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-range, range);
  for (auto& e : x) {
    double r = dist(rng);
    if (std::abs(r) < 1e-3 * range) r = 0.5 * range;  // non-zero inputs
    e = round_to(t, static_cast<float>(r));
  }
}

// Runs one case on the GPU and compares with the reference.
void run_case(const Case& c) {
  SCOPED_TRACE(c.name + " dtype=" + type_name(c.dtype) + " B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) +
               " Sq=" + std::to_string(c.Sq) + " Sk=" + std::to_string(c.Sk) + " Dh=" + std::to_string(c.Dh) +
               " Dv=" + std::to_string(c.Dv) + (c.causal ? " causal" : "") + " rows=" + std::to_string(c.block_rows));
  std::mt19937_64 rng(c.seed);
  const int64_t E = c.H * c.Dh, Ev = c.H * c.Dv;
  std::vector<float> q(static_cast<size_t>(c.B * c.Sq * E)), k(static_cast<size_t>(c.B * c.Sk * E)),
      v(static_cast<size_t>(c.B * c.Sk * Ev));
  fill_random(q, c.dtype, c.input_range, rng);
  fill_random(k, c.dtype, c.input_range, rng);
  fill_random(v, c.dtype, 1.0, rng);
  const std::vector<int64_t> mdims = mask_dims(c);
  const std::vector<float> mask = make_mask(c, mdims, rng);
  const std::vector<int64_t> ms = c.mask == MaskKind::kNone ? std::vector<int64_t>(4, 0) : mask_view_strides(mdims);
  const float scale = c.scale != 0.f ? c.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.Dh)));

  // Layout: element offsets and strides of each tensor in one device allocation per tensor.
  const size_t es = elem_size(c.dtype);
  const int64_t align = c.misalign;
  int64_t q_rs = E, k_rs = E, v_rs = Ev, q_off = align, k_off = align, v_off = align;
  if (c.packed_qkv) {
    q_rs = k_rs = v_rs = 2 * E + Ev;
    k_off = align + E;
    v_off = align + 2 * E;
  }
  const int64_t y_rs = Ev + c.y_pad;
  auto bytes_for = [&](int64_t rows, int64_t rs) { return static_cast<size_t>(align + rows * rs + 8) * es; };

  HostImage qi, ki, vi, mi;
  qi.bytes.assign(bytes_for(c.B * c.Sq, q_rs), 0);
  qi.put(c.dtype, q, c.B * c.Sq, E, q_rs, q_off);
  if (c.packed_qkv) {
    qi.put(c.dtype, k, c.B * c.Sk, E, k_rs, k_off);
    qi.put(c.dtype, v, c.B * c.Sk, Ev, v_rs, v_off);
  } else {
    ki.bytes.assign(bytes_for(c.B * c.Sk, k_rs), 0);
    ki.put(c.dtype, k, c.B * c.Sk, E, k_rs, k_off);
    vi.bytes.assign(bytes_for(c.B * c.Sk, v_rs), 0);
    vi.put(c.dtype, v, c.B * c.Sk, Ev, v_rs, v_off);
  }
  if (!mask.empty()) {
    mi.bytes.assign(mask.size() * es, 0);
    mi.put(c.dtype, mask, 1, static_cast<int64_t>(mask.size()), 0, 0);
  }

  DeviceMemory dq, dk, dv, dm, dy;
  const size_t y_bytes = bytes_for(c.B * c.Sq, y_rs);
  KILN_CUDA_ASSERT(cudaMalloc(&dq.ptr, qi.bytes.size()));
  KILN_CUDA_ASSERT(cudaMemcpy(dq.ptr, qi.bytes.data(), qi.bytes.size(), cudaMemcpyHostToDevice));
  if (!c.packed_qkv) {
    KILN_CUDA_ASSERT(cudaMalloc(&dk.ptr, ki.bytes.size()));
    KILN_CUDA_ASSERT(cudaMemcpy(dk.ptr, ki.bytes.data(), ki.bytes.size(), cudaMemcpyHostToDevice));
    KILN_CUDA_ASSERT(cudaMalloc(&dv.ptr, vi.bytes.size()));
    KILN_CUDA_ASSERT(cudaMemcpy(dv.ptr, vi.bytes.data(), vi.bytes.size(), cudaMemcpyHostToDevice));
  }
  if (!mask.empty()) {
    KILN_CUDA_ASSERT(cudaMalloc(&dm.ptr, mi.bytes.size()));
    KILN_CUDA_ASSERT(cudaMemcpy(dm.ptr, mi.bytes.data(), mi.bytes.size(), cudaMemcpyHostToDevice));
  }
  KILN_CUDA_ASSERT(cudaMalloc(&dy.ptr, y_bytes));
  KILN_CUDA_ASSERT(cudaMemset(dy.ptr, 0xff, y_bytes));  // NaN in every float format

  auto* qb = static_cast<unsigned char*>(dq.ptr);
  const void* qp = qb + q_off * es;
  const void* kp = c.packed_qkv ? static_cast<const void*>(qb + k_off * es)
                                : static_cast<const void*>(static_cast<unsigned char*>(dk.ptr) + k_off * es);
  const void* vp = c.packed_qkv ? static_cast<const void*>(qb + v_off * es)
                                : static_cast<const void*>(static_cast<unsigned char*>(dv.ptr) + v_off * es);
  void* yp = static_cast<unsigned char*>(dy.ptr) + align * es;

  AttentionProblem p = dense_attention_problem(qp, kp, vp, yp, c.B, c.H, c.Sq, c.Sk, c.Dh, c.Dv);
  p.q_row_stride = q_rs;
  p.q_batch_stride = c.Sq * q_rs;
  p.k_row_stride = k_rs;
  p.k_batch_stride = c.Sk * k_rs;
  p.v_row_stride = v_rs;
  p.v_batch_stride = c.Sk * v_rs;
  p.y_row_stride = y_rs;
  p.y_batch_stride = c.Sq * y_rs;
  if (c.packed_qkv && c.Dh == c.Dv && c.y_pad == 0) {
    // The layout kiln.Attention's qkv_packed form gets from packed_qkv_attention_problem: the
    // same as laid out by hand above.
    const AttentionProblem h = packed_qkv_attention_problem(qp, yp, c.dtype, c.B, c.H, c.Sq, c.Dh);
    EXPECT_EQ(h.q, p.q);
    EXPECT_EQ(h.k, p.k);
    EXPECT_EQ(h.v, p.v);
    EXPECT_EQ(h.y, p.y);
    EXPECT_EQ(h.seq_k, p.seq_k);
    EXPECT_EQ(h.value_dim, p.value_dim);
    for (auto [a, b] : {std::pair{h.q_row_stride, p.q_row_stride}, std::pair{h.k_row_stride, p.k_row_stride},
                        std::pair{h.v_row_stride, p.v_row_stride}, std::pair{h.q_batch_stride, p.q_batch_stride},
                        std::pair{h.k_batch_stride, p.k_batch_stride}, std::pair{h.v_batch_stride, p.v_batch_stride},
                        std::pair{h.y_row_stride, p.y_row_stride}, std::pair{h.y_batch_stride, p.y_batch_stride}}) {
      EXPECT_EQ(a, b);
    }
    p = h;
  }
  if (!mask.empty()) {
    p.mask = dm.ptr;
    for (int d = 0; d < 4; ++d) p.mask_strides[d] = ms[static_cast<size_t>(d)];
  }
  p.scale = scale;
  p.causal = c.causal;
  p.block_rows = c.block_rows;

  cudaStream_t stream = nullptr;
  KILN_CUDA_ASSERT(cudaStreamCreate(&stream));
  const cudaError_t launched = attention(p, c.dtype, stream);
  const cudaError_t synced = cudaStreamSynchronize(stream);
  cudaStreamDestroy(stream);
  ASSERT_EQ(launched, cudaSuccess) << cudaGetErrorString(launched);
  ASSERT_EQ(synced, cudaSuccess) << cudaGetErrorString(synced);

  std::vector<unsigned char> yb(y_bytes);
  KILN_CUDA_ASSERT(cudaMemcpy(yb.data(), dy.ptr, y_bytes, cudaMemcpyDeviceToHost));

  const std::vector<double> ref = reference(c, scale, q, k, v, mask, ms);
  double err2 = 0, ref2 = 0, max_abs = 0;
  int64_t bad_zero_rows = 0, non_finite = 0, pad_overwritten = 0;
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t i = 0; i < c.Sq; ++i) {
      const unsigned char* row = yb.data() + static_cast<size_t>(align + (b * c.Sq + i) * y_rs) * es;
      for (int64_t h = 0; h < c.H; ++h) {
        const bool zero_row = row_fully_masked(c, mask, ms, b, h, i);
        for (int64_t d = 0; d < c.Dv; ++d) {
          const int64_t col = h * c.Dv + d;
          const double got = load_elem(c.dtype, row + static_cast<size_t>(col) * es);
          const double want = ref[static_cast<size_t>((b * c.Sq + i) * Ev + col)];
          if (!std::isfinite(got)) {
            ++non_finite;
            continue;
          }
          if (zero_row && got != 0.0) ++bad_zero_rows;
          err2 += (got - want) * (got - want);
          ref2 += want * want;
          max_abs = std::max(max_abs, std::abs(got - want));
        }
      }
      for (int64_t x = Ev; x < y_rs; ++x) {  // the gap after each row keeps its poison
        for (size_t byte = 0; byte < es; ++byte) pad_overwritten += row[static_cast<size_t>(x) * es + byte] != 0xff;
      }
    }
  }
  const Tolerance tol = tolerance(c.dtype);
  EXPECT_EQ(non_finite, 0) << "outputs left poisoned or NaN/inf";
  EXPECT_EQ(bad_zero_rows, 0) << "fully masked rows must be exact zeros";
  EXPECT_EQ(pad_overwritten, 0) << "bytes written outside the output rows";
  ASSERT_GT(ref2, 0.0) << "degenerate case: the reference output is all zeros";
  EXPECT_LE(std::sqrt(err2 / ref2), tol.rel_l2) << "relative L2 error";
  EXPECT_LE(max_abs, tol.max_abs) << "max abs error";
}

constexpr DataType kHalfTypes[] = {DataType::kFloat16, DataType::kBFloat16};

TEST_F(CudaAttentionTest, HeadDims64And128AllSequenceLengths) {
  struct Shape {
    int64_t B, H, Sq, Sk, D;
  };
  const Shape shapes[] = {{1, 1, 1, 1, 64},     {2, 3, 7, 7, 64},     {1, 2, 128, 128, 64}, {2, 2, 129, 129, 64},
                          {1, 2, 512, 512, 64}, {2, 2, 7, 129, 64},   {1, 2, 129, 7, 64},   {1, 1, 1, 1, 128},
                          {2, 3, 7, 7, 128},    {1, 2, 128, 128, 128}, {2, 1, 129, 200, 128}, {1, 2, 512, 512, 128}};
  uint64_t seed = 100;
  for (DataType t : kHalfTypes) {
    for (const Shape& s : shapes) {
      for (int rows : {64, 128}) {
        Case c;
        c.name = "plain";
        c.dtype = t;
        c.B = s.B, c.H = s.H, c.Sq = s.Sq, c.Sk = s.Sk, c.Dh = c.Dv = s.D;
        c.block_rows = rows;
        c.seed = ++seed;
        run_case(c);
      }
    }
  }
}

TEST_F(CudaAttentionTest, GenericHeadDimsPadToTheNextKernel) {
  struct Dims {
    int64_t Dh, Dv;
  };
  const Dims dims[] = {{8, 8},    {32, 32},   {40, 40},   {80, 80},  {96, 96},  {136, 136},
                       {160, 160}, {256, 256}, {64, 128}, {128, 64}, {32, 256}, {200, 24}};
  uint64_t seed = 200;
  for (DataType t : kHalfTypes) {
    for (const Dims& d : dims) {
      for (bool causal : {false, true}) {
        Case c;
        c.name = "generic dims";
        c.dtype = t;
        c.B = 2, c.H = 2, c.Sq = 77, c.Sk = 129, c.Dh = d.Dh, c.Dv = d.Dv;
        c.causal = causal;
        c.seed = ++seed;
        ASSERT_TRUE(attention_uses_tensor_cores(
            dense_attention_problem(reinterpret_cast<void*>(256), reinterpret_cast<void*>(256),
                                    reinterpret_cast<void*>(256), reinterpret_cast<void*>(256), 2, 2, 77, 129, d.Dh,
                                    d.Dv),
            t));
        run_case(c);
      }
    }
  }
}

TEST_F(CudaAttentionTest, Causal) {
  struct Shape {
    int64_t Sq, Sk, D;
  };
  // Sq == Sk; Sq < Sk (the queries are the last positions, decode-like); Sq > Sk (the first
  // Sq - Sk rows see no key and give zeros).
  const Shape shapes[] = {{128, 128, 64}, {129, 129, 64}, {512, 512, 64}, {1, 129, 64},   {7, 129, 128},
                          {129, 7, 64},   {200, 64, 128}, {512, 512, 128}, {300, 129, 128}, {1, 1, 64}};
  uint64_t seed = 300;
  for (DataType t : kHalfTypes) {
    for (const Shape& s : shapes) {
      for (int rows : {64, 128}) {
        Case c;
        c.name = "causal";
        c.dtype = t;
        c.B = 2, c.H = 3, c.Sq = s.Sq, c.Sk = s.Sk, c.Dh = c.Dv = s.D;
        c.causal = true;
        c.block_rows = rows;
        c.seed = ++seed;
        run_case(c);
      }
    }
  }
}

TEST_F(CudaAttentionTest, KeyPaddingMasks) {
  uint64_t seed = 400;
  for (DataType t : kHalfTypes) {
    for (MaskKind m : {MaskKind::kKeyPadding, MaskKind::kKeyPaddingMin, MaskKind::kKeysOnly, MaskKind::kHeadKeys}) {
      for (bool causal : {false, true}) {
        for (int64_t S : {int64_t{7}, int64_t{128}, int64_t{129}}) {
          for (int64_t D : {int64_t{64}, int64_t{128}}) {
            Case c;
            c.name = "key mask " + std::to_string(static_cast<int>(m));
            c.dtype = t;
            c.B = 3, c.H = 4, c.Sq = S, c.Sk = S, c.Dh = c.Dv = D;
            c.causal = causal;
            c.mask = m;
            c.seed = ++seed;
            run_case(c);
          }
        }
      }
    }
  }
}

TEST_F(CudaAttentionTest, PerRowMasks) {
  uint64_t seed = 500;
  for (DataType t : kHalfTypes) {
    for (MaskKind m : {MaskKind::kRowsKeys, MaskKind::kFull}) {
      for (bool causal : {false, true}) {
        for (int rows : {64, 128}) {
          Case c;
          c.name = "row mask " + std::to_string(static_cast<int>(m));
          c.dtype = t;
          c.B = 2, c.H = 3, c.Sq = 129, c.Sk = 150, c.Dh = 64, c.Dv = 64;
          c.causal = causal;
          c.mask = m;
          c.block_rows = rows;
          c.seed = ++seed;
          run_case(c);
          c.Dh = c.Dv = 128;
          c.Sq = 70, c.Sk = 70;
          c.seed = ++seed;
          run_case(c);
        }
      }
    }
  }
}

TEST_F(CudaAttentionTest, SharpSoftmaxAndCustomScale) {
  // Large scores make the running max move between key tiles, so the online rescaling matters.
  uint64_t seed = 600;
  for (DataType t : kHalfTypes) {
    for (int64_t D : {int64_t{64}, int64_t{128}}) {
      Case c;
      c.name = "sharp";
      c.dtype = t;
      c.B = 1, c.H = 2, c.Sq = 129, c.Sk = 512, c.Dh = c.Dv = D;
      c.input_range = 2.0;
      c.scale = 0.5f;
      c.seed = ++seed;
      run_case(c);
    }
  }
}

TEST_F(CudaAttentionTest, StridedViews) {
  // A packed QKV projection output read in place, and an output with a gap after each row.
  uint64_t seed = 700;
  for (DataType t : kHalfTypes) {
    for (int64_t D : {int64_t{64}, int64_t{128}, int64_t{40}}) {
      Case c;
      c.name = "packed qkv";
      c.dtype = t;
      c.B = 2, c.H = 3, c.Sq = 129, c.Sk = 129, c.Dh = c.Dv = D;
      c.packed_qkv = true;
      c.y_pad = 8;
      c.mask = MaskKind::kKeyPadding;
      c.seed = ++seed;
      run_case(c);
    }
  }
}

// BERT-base at batch 2 read from the packed QKV projection [2, 128, 3·768], as kiln.Attention's
// qkv_packed form runs it: key-padding masks with -inf and with fp16's lowest value.
TEST_F(CudaAttentionTest, PackedQkvBertBaseShape) {
  uint64_t seed = 850;
  for (DataType t : kHalfTypes) {
    for (MaskKind m : {MaskKind::kKeyPadding, MaskKind::kKeyPaddingMin}) {
      Case c;
      c.name = "packed bert-base";
      c.dtype = t;
      c.B = 2, c.H = 12, c.Sq = 128, c.Sk = 128, c.Dh = c.Dv = 64;
      c.packed_qkv = true;
      c.mask = m;
      c.seed = ++seed;
      run_case(c);
    }
  }
}

TEST_F(CudaAttentionTest, BertBaseShape) {
  for (DataType t : kHalfTypes) {
    Case c;
    c.name = "bert-base";
    c.dtype = t;
    c.B = 4, c.H = 12, c.Sq = 128, c.Sk = 128, c.Dh = c.Dv = 64;
    c.mask = MaskKind::kKeyPaddingMin;
    c.seed = 800;
    run_case(c);
  }
}

TEST_F(CudaAttentionTest, Float32AndFallbackKernel) {
  uint64_t seed = 900;
  // float32: always the fp32 kernel.
  for (bool causal : {false, true}) {
    for (MaskKind m : {MaskKind::kNone, MaskKind::kKeyPadding, MaskKind::kRowsKeys}) {
      Case c;
      c.name = "fp32";
      c.dtype = DataType::kFloat32;
      c.B = 2, c.H = 3, c.Sq = 129, c.Sk = 77, c.Dh = 64, c.Dv = 48;
      c.causal = causal;
      c.mask = m;
      c.seed = ++seed;
      run_case(c);
    }
  }
  {
    Case c;
    c.name = "fp32 long";
    c.dtype = DataType::kFloat32;
    c.B = 1, c.H = 2, c.Sq = 7, c.Sk = 512, c.Dh = 128, c.Dv = 128;
    c.seed = ++seed;
    run_case(c);
  }
  for (DataType t : kHalfTypes) {
    // Odd dims and unaligned tensors leave the tensor-core kernel.
    Case c;
    c.name = "odd dims";
    c.dtype = t;
    c.B = 2, c.H = 2, c.Sq = 33, c.Sk = 40, c.Dh = 20, c.Dv = 12;
    c.causal = true;
    c.mask = MaskKind::kKeyPadding;
    c.seed = ++seed;
    ASSERT_FALSE(attention_uses_tensor_cores(
        dense_attention_problem(reinterpret_cast<void*>(256), reinterpret_cast<void*>(256),
                                reinterpret_cast<void*>(256), reinterpret_cast<void*>(256), 2, 2, 33, 40, 20, 12),
        t));
    run_case(c);
    c.name = "unaligned";
    c.Dh = c.Dv = 64;
    c.misalign = 1;
    c.seed = ++seed;
    run_case(c);
    c.name = "head dim > 256";
    c.misalign = 0;
    c.Dh = c.Dv = 264;
    c.Sq = 9;
    c.seed = ++seed;
    run_case(c);
  }
}

TEST_F(CudaAttentionTest, EmptyAndKeylessProblems) {
  for (DataType t : {DataType::kFloat16, DataType::kFloat32}) {
    // No query rows or no batch: nothing to launch.
    AttentionProblem p = dense_attention_problem(nullptr, nullptr, nullptr, nullptr, 0, 2, 5, 5, 64, 64);
    EXPECT_EQ(attention(p, t, nullptr), cudaSuccess);
    p = dense_attention_problem(nullptr, nullptr, nullptr, nullptr, 2, 2, 0, 5, 64, 64);
    EXPECT_EQ(attention(p, t, nullptr), cudaSuccess);
    // No keys: every row is fully masked and gives zeros.
    const int64_t B = 2, H = 2, Sq = 5, D = 64;
    const size_t es = elem_size(t), n = static_cast<size_t>(B * Sq * H * D);
    DeviceMemory q, y;
    KILN_CUDA_ASSERT(cudaMalloc(&q.ptr, n * es));
    KILN_CUDA_ASSERT(cudaMemset(q.ptr, 0x3c, n * es));
    KILN_CUDA_ASSERT(cudaMalloc(&y.ptr, n * es));
    KILN_CUDA_ASSERT(cudaMemset(y.ptr, 0xff, n * es));
    p = dense_attention_problem(q.ptr, q.ptr, q.ptr, y.ptr, B, H, Sq, 0, D, D);
    p.scale = 0.125f;
    EXPECT_EQ(attention(p, t, nullptr), cudaSuccess);
    KILN_CUDA_ASSERT(cudaDeviceSynchronize());
    std::vector<unsigned char> out(n * es);
    KILN_CUDA_ASSERT(cudaMemcpy(out.data(), y.ptr, out.size(), cudaMemcpyDeviceToHost));
    int64_t nonzero = 0;
    for (unsigned char byte : out) nonzero += byte != 0;
    EXPECT_EQ(nonzero, 0) << type_name(t);
  }
}

// Argument checks happen before any CUDA call, so they run without a device.
TEST(CudaAttentionArgs, RejectsBadProblems) {
  void* some = reinterpret_cast<void*>(256);
  AttentionProblem p = dense_attention_problem(some, some, some, some, 1, 2, 8, 8, 64, 64);
  EXPECT_EQ(attention(p, DataType::kInt32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(attention(p, DataType::kFloat64, nullptr), cudaErrorInvalidValue);
  p.block_rows = 32;
  EXPECT_EQ(attention(p, DataType::kFloat16, nullptr), cudaErrorInvalidValue);
  p.block_rows = 0;
  p.seq_k = -1;
  EXPECT_EQ(attention(p, DataType::kFloat16, nullptr), cudaErrorInvalidValue);
  p = dense_attention_problem(nullptr, some, some, some, 1, 2, 8, 8, 64, 64);
  EXPECT_EQ(attention(p, DataType::kFloat16, nullptr), cudaErrorInvalidValue);
}

TEST(CudaAttentionArgs, TensorCorePathSelection) {
  void* a = reinterpret_cast<void*>(1024);
  const AttentionProblem dense = dense_attention_problem(a, a, a, a, 2, 12, 128, 128, 64, 64);
  EXPECT_TRUE(attention_uses_tensor_cores(dense, DataType::kFloat16));
  EXPECT_TRUE(attention_uses_tensor_cores(dense, DataType::kBFloat16));
  EXPECT_FALSE(attention_uses_tensor_cores(dense, DataType::kFloat32));
  EXPECT_FALSE(attention_uses_tensor_cores(dense_attention_problem(a, a, a, a, 2, 12, 128, 128, 264, 64),
                                           DataType::kFloat16));
  EXPECT_FALSE(attention_uses_tensor_cores(dense_attention_problem(a, a, a, a, 2, 12, 128, 128, 64, 20),
                                           DataType::kFloat16));
  AttentionProblem odd_stride = dense;
  odd_stride.k_row_stride = 770;
  EXPECT_FALSE(attention_uses_tensor_cores(odd_stride, DataType::kFloat16));
  AttentionProblem unaligned = dense;
  unaligned.v = reinterpret_cast<void*>(1024 + 2);
  EXPECT_FALSE(attention_uses_tensor_cores(unaligned, DataType::kFloat16));
}

// The packed BERT-base QKV [B, 128, 3·768]: K and V start 768 and 1536 elements in (1536 and 3072
// bytes in 16 bits, 16-byte aligned) and every row stride 2304 is a multiple of 8, so the
// tensor-core kernel reads it in place; fp32 and an unaligned base take the fp32-arithmetic kernel.
TEST(CudaAttentionArgs, PackedQkvLayoutAndPathSelection) {
  const auto base = reinterpret_cast<const unsigned char*>(4096);
  const auto at = [&](int64_t bytes) { return static_cast<const void*>(base + bytes); };
  void* y = reinterpret_cast<void*>(65536);
  const AttentionProblem p = packed_qkv_attention_problem(base, y, DataType::kFloat16, 64, 12, 128, 64);
  EXPECT_EQ(p.q, at(0));
  EXPECT_EQ(p.k, at(768 * 2));
  EXPECT_EQ(p.v, at(1536 * 2));
  EXPECT_EQ(p.y, y);
  EXPECT_EQ(p.batch, 64);
  EXPECT_EQ(p.heads, 12);
  EXPECT_EQ(p.seq_q, 128);
  EXPECT_EQ(p.seq_k, 128);
  EXPECT_EQ(p.head_dim, 64);
  EXPECT_EQ(p.value_dim, 64);
  for (int64_t stride : {p.q_row_stride, p.k_row_stride, p.v_row_stride}) EXPECT_EQ(stride, 2304);
  for (int64_t stride : {p.q_batch_stride, p.k_batch_stride, p.v_batch_stride}) EXPECT_EQ(stride, 128 * 2304);
  EXPECT_EQ(p.y_row_stride, 768);
  EXPECT_EQ(p.y_batch_stride, 128 * 768);
  EXPECT_TRUE(attention_uses_tensor_cores(p, DataType::kFloat16));
  EXPECT_TRUE(attention_uses_tensor_cores(packed_qkv_attention_problem(base, y, DataType::kBFloat16, 64, 12, 128, 64),
                                          DataType::kBFloat16));
  const AttentionProblem f32 = packed_qkv_attention_problem(base, y, DataType::kFloat32, 64, 12, 128, 64);
  EXPECT_EQ(f32.k, at(768 * 4));
  EXPECT_EQ(f32.v, at(1536 * 4));
  EXPECT_FALSE(attention_uses_tensor_cores(f32, DataType::kFloat32));
  EXPECT_FALSE(attention_uses_tensor_cores(packed_qkv_attention_problem(base + 2, y, DataType::kFloat16, 64, 12, 128, 64),
                                           DataType::kFloat16));
  // E = 3·20: head dim 20 is not a multiple of 8.
  EXPECT_FALSE(attention_uses_tensor_cores(packed_qkv_attention_problem(base, y, DataType::kFloat16, 2, 3, 16, 20),
                                           DataType::kFloat16));
  // An empty QKV gets no offsets into its (null) buffer.
  const AttentionProblem empty = packed_qkv_attention_problem(nullptr, nullptr, DataType::kFloat16, 0, 12, 128, 64);
  EXPECT_EQ(empty.k, nullptr);
  EXPECT_EQ(empty.v, nullptr);
  EXPECT_EQ(attention(empty, DataType::kFloat16, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace kiln::cuda
