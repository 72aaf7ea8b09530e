#include "ir/ops/control/control_ops.h"
#include "ir/ops/families.h"

namespace kiln {

void register_control_ops(OpRegistry& r) {
  register_if(r);
  register_loop(r);
  register_scan(r);
  register_rnn(r);
  register_lstm(r);
  register_gru(r);
  register_dft(r);
  register_stft(r);
  register_windows(r);  // BlackmanWindow, HannWindow, HammingWindow
  register_mel_weight_matrix(r);
}

}  // namespace kiln
