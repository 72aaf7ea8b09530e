// Helpers shared by the signal kernels (windows, MelWeightMatrix, DFT, STFT).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "backends/kernel.h"

namespace kiln {

// Stores doubles into a numeric tensor (float types round once; integers truncate toward zero
// like a numpy astype).
Status store_doubles(Tensor& t, const std::vector<double>& v);

// The 'output_datatype' attribute (default float32) as a numeric dtype kiln holds.
Result<DataType> output_datatype_of(const KernelContext& ctx);

// A one-value int32/int64 input (std::nullopt when omitted).
Result<std::optional<int64_t>> scalar_int_of(const KernelContext& ctx, size_t i, const char* name);

// One DFT of n points over `count` complex samples (re/im; zero-padded up to n, truncated past
// it): out[k] = sum_j x[j] e^(-+2 pi i k j / n), scaled by 1/n when inverse. out_re/out_im hold n.
void dft_1d(const double* re, const double* im, int64_t count, int64_t n, bool inverse, double* out_re,
            double* out_im);

}  // namespace kiln
