// What RNN, GRU and LSTM kernels share: activation functions, reading the inputs into one
// canonical layout ([seq][batch][input], state [dir][batch][hidden]) and writing Y / Y_h / Y_c
// back in the node's layout. They compute in double and round once when storing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/kernel.h"

namespace kiln {

struct RecurrentActivation {
  enum class Kind { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh,
                    kHardSigmoid, kElu, kSoftsign, kSoftplus };
  Kind kind = Kind::kTanh;
  double alpha = 0;
  double beta = 0;
  double operator()(double x) const;
};

struct RecurrentSetup {
  DataType dtype = DataType::kFloat32;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, layout = 0;
  bool reverse_only = false;  // direction == "reverse"
  double clip = 0;            // 0: no clipping
  std::vector<double> x;      // [seq][batch][input]
  std::vector<double> w;      // [dirs][gates*hidden][input]
  std::vector<double> r;      // [dirs][gates*hidden][hidden]
  std::vector<double> b;      // [dirs][2*gates*hidden] (zeros when omitted)
  std::vector<int64_t> lens;  // [batch]
  std::vector<double> h0;     // [dirs][batch][hidden]
  std::vector<double> c0;     // [dirs][batch][hidden] (LSTM)
  std::vector<double> p;      // [dirs][3*hidden] (LSTM, zeros when omitted)
  // activations[d][k]: the k-th function of direction d.
  std::vector<std::vector<RecurrentActivation>> activations;

  // Gate row `row` (of gates*hidden) of direction d: W.x[t][b], R.h, and the two biases.
  double wx(int64_t gates, int64_t d, int64_t row, int64_t t, int64_t bi) const {
    const double* wr = &w[static_cast<size_t>((d * gates * hidden + row) * input)];
    const double* xr = &x[static_cast<size_t>((t * batch + bi) * input)];
    double acc = 0;
    for (int64_t i = 0; i < input; ++i) acc += wr[i] * xr[i];
    return acc;
  }
  double rh(int64_t gates, int64_t d, int64_t row, const double* h) const {
    const double* rr = &r[static_cast<size_t>((d * gates * hidden + row) * hidden)];
    double acc = 0;
    for (int64_t i = 0; i < hidden; ++i) acc += rr[i] * h[i];
    return acc;
  }
  double wb(int64_t gates, int64_t d, int64_t row) const { return b[static_cast<size_t>(d * 2 * gates * hidden + row)]; }
  double rb(int64_t gates, int64_t d, int64_t row) const {
    return b[static_cast<size_t>(d * 2 * gates * hidden + gates * hidden + row)];
  }
  bool is_reverse(int64_t d) const { return reverse_only || d == 1; }
  double clipped(double v) const { return clip > 0 ? (v < -clip ? -clip : (v > clip ? clip : v)) : v; }
};

// gates: 1/3/4; defaults: the default activation names of one direction.
Result<RecurrentSetup> recurrent_setup(KernelContext& ctx, int64_t gates, const std::vector<std::string>& defaults);

// Writes y ([seq][dirs][batch][hidden]) to output 0 and the states ([dirs][batch][hidden]) to
// outputs 1.. (each only when the node has that output).
Status recurrent_store(KernelContext& ctx, const RecurrentSetup& s, const std::vector<double>& y,
                       const std::vector<const std::vector<double>*>& states);

}  // namespace kiln
