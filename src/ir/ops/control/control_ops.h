#pragma once

#include "ir/op_schema.h"

namespace kiln {
void register_if(OpRegistry& r);
void register_loop(OpRegistry& r);
void register_scan(OpRegistry& r);
void register_rnn(OpRegistry& r);
void register_lstm(OpRegistry& r);
void register_gru(OpRegistry& r);
void register_dft(OpRegistry& r);
void register_stft(OpRegistry& r);
void register_windows(OpRegistry& r);
void register_mel_weight_matrix(OpRegistry& r);
}  // namespace kiln
