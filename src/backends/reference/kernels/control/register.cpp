#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/families.h"

namespace kiln {

void register_control_kernels(KernelTable& t) {
  t.add("If", ref_if);
  t.add("Loop", ref_loop);
  t.add("Scan", ref_scan);
  t.add("RNN", ref_rnn);
  t.add("LSTM", ref_lstm);
  t.add("GRU", ref_gru);
  t.add("DFT", ref_dft);
  t.add("STFT", ref_stft);
  t.add("BlackmanWindow", ref_blackman_window);
  t.add("HannWindow", ref_hann_window);
  t.add("HammingWindow", ref_hamming_window);
  t.add("MelWeightMatrix", ref_mel_weight_matrix);
}

}  // namespace kiln
