#pragma once

#include "backends/kernel.h"

namespace kiln {
Status ref_if(KernelContext& ctx);
Status ref_loop(KernelContext& ctx);
Status ref_scan(KernelContext& ctx);
Status ref_rnn(KernelContext& ctx);
Status ref_lstm(KernelContext& ctx);
Status ref_gru(KernelContext& ctx);
Status ref_dft(KernelContext& ctx);
Status ref_stft(KernelContext& ctx);
Status ref_blackman_window(KernelContext& ctx);
Status ref_hann_window(KernelContext& ctx);
Status ref_hamming_window(KernelContext& ctx);
Status ref_mel_weight_matrix(KernelContext& ctx);
}  // namespace kiln
