// Harness cases for the control family: recurrent layers (weights as constants, as exporters
// write them), the signal ops, and If/Loop/Scan with small self-contained bodies.
#include <memory>
#include <string>

#include "harness/harness.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::harness {

namespace {

CaseInput data(DataType t, Dims dims, bool constant = false) {
  CaseInput c;
  c.dtype = t;
  c.dims = std::move(dims);
  c.constant = constant;
  return c;
}

CaseInput values(DataType t, Dims dims, std::vector<double> v, bool constant = true) {
  CaseInput c;
  c.dtype = t;
  c.dims = std::move(dims);
  c.fill = Fill::kValues;
  c.values = std::move(v);
  c.constant = constant;
  return c;
}


Case make(const std::string& name, const std::string& op, std::vector<CaseInput> inputs, int opset,
          std::function<void(Attributes&)> attrs, size_t num_outputs, double tol = 1e-5) {
  Case c;
  c.name = name;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.num_outputs = num_outputs;
  c.tolerance = tol;
  return c;
}

double tol_for(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16 ? 2e-2 : 1e-4; }

struct RecurrentVariant {
  std::string suffix;
  std::string direction;
  int64_t layout;
  bool lens, init, bias, peep;
};

void add_recurrent(std::vector<Case>& cases, const std::string& op, int64_t gates) {
  const int64_t S = 5, B = 3, I = 7, H = 4;
  const RecurrentVariant variants[] = {
      {"fwd_defaults", "forward", 0, false, false, false, false},
      {"rev_bias_init", "reverse", 0, false, true, true, false},
      {"bidir_lens_init", "bidirectional", 0, true, true, true, true},
      {"bidir_layout1_lens", "bidirectional", 1, true, true, true, true},
  };
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64}) {
    for (const RecurrentVariant& v : variants) {
      if (t != DataType::kFloat32 && v.suffix != "bidir_lens_init") continue;
      const int64_t nd = v.direction == "bidirectional" ? 2 : 1;
      std::vector<CaseInput> in;
      in.push_back(data(t, v.layout == 0 ? Dims{S, B, I} : Dims{B, S, I}));
      in.push_back(data(t, {nd, gates * H, I}, true));
      in.push_back(data(t, {nd, gates * H, H}, true));
      in.push_back(v.bias ? data(t, {nd, 2 * gates * H}, true) : omitted());
      in.push_back(v.lens ? values(DataType::kInt32, {B}, {5, 2, 4}, false) : omitted());
      const Dims state = v.layout == 0 ? Dims{nd, B, H} : Dims{B, nd, H};
      in.push_back(v.init ? data(t, state) : omitted());
      if (gates == 4) {
        in.push_back(v.init ? data(t, state) : omitted());
        in.push_back(v.peep ? data(t, {nd, 3 * H}, true) : omitted());
      }
      while (!in.empty() && in.back().omitted) in.pop_back();
      const std::string dir = v.direction;
      const int64_t layout = v.layout;
      cases.push_back(make(op + "_" + dtype_name(t) + "_" + v.suffix, op, in, layout ? 14 : 7,
                           [dir, layout](Attributes& a) {
                             a.set_string("direction", dir);
                             a.set_int("hidden_size", H);
                             if (layout) a.set_int("layout", layout);
                           },
                           gates == 4 ? 3 : 2, tol_for(t)));
    }
  }
}

void add_recurrent_attr_cases(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  // GRU with linear_before_reset and custom activations for both directions.
  cases.push_back(make("GRU_lbr_acts_bidir", "GRU",
                       {data(f, {4, 2, 3}), data(f, {2, 9, 3}, true), data(f, {2, 9, 3}, true), data(f, {2, 18}, true)}, 14,
                       [](Attributes& a) {
                         a.set_string("direction", "bidirectional");
                         a.set_int("linear_before_reset", 1);
                         Attribute acts;
                         acts.kind = Attribute::Kind::kStrings;
                         acts.strings = {"HardSigmoid", "Tanh", "Sigmoid", "LeakyRelu"};
                         a.set("activations", acts);
                         a.set_floats("activation_alpha", {0.3f, 0.05f});
                         a.set_floats("activation_beta", {0.6f});
                       },
                       2, 1e-4));
  // LSTM with input_forget and clip.
  cases.push_back(make("LSTM_forget_clip", "LSTM",
                       {data(f, {6, 2, 5}), data(f, {1, 12, 5}, true), data(f, {1, 12, 3}, true), data(f, {1, 24}, true)}, 7,
                       [](Attributes& a) {
                         a.set_int("hidden_size", 3);
                         a.set_int("input_forget", 1);
                         a.set_float("clip", 0.7f);
                       },
                       2, 1e-4));
  // RNN with Relu and a zero-length batch entry.
  cases.push_back(make("RNN_relu_zero_len", "RNN",
                       {data(f, {3, 4, 2}), data(f, {1, 5, 2}, true), data(f, {1, 5, 5}, true), omitted(),
                        values(DataType::kInt32, {4}, {3, 0, 1, 2}, false)},
                       7,
                       [](Attributes& a) {
                         Attribute acts;
                         acts.kind = Attribute::Kind::kStrings;
                         acts.strings = {"Relu"};
                         a.set("activations", acts);
                       },
                       2, 1e-4));
}

void add_signal_cases(std::vector<Case>& cases) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
    const std::string tn = dtype_name(t);
    // Real signal along axis 1 (opset 17 attribute).
    cases.push_back(make("DFT_" + tn + "_real_axis1", "DFT", {data(t, {3, 11, 5, 1})}, 17, {}, 1, tol_for(t) * 10));
    // Complex, padded to 16 points, onesided, opset 20 axis input.
    cases.push_back(make("DFT_" + tn + "_complex_len16_axis2", "DFT",
                         {data(t, {2, 3, 13, 2}), values(DataType::kInt64, {}, {16}), values(DataType::kInt64, {}, {2})}, 20,
                         [](Attributes& a) { a.set_int("onesided", 1); }, 1, tol_for(t) * 10));
  }
  cases.push_back(make("DFT_f32_inverse_trunc", "DFT",
                       {data(DataType::kFloat32, {4, 9, 2}), values(DataType::kInt32, {}, {6})}, 17,
                       [](Attributes& a) { a.set_int("inverse", 1); }, 1, 1e-4));
  cases.push_back(make("STFT_f32_real_window", "STFT",
                       {data(DataType::kFloat32, {2, 64, 1}), values(DataType::kInt64, {}, {6}),
                        data(DataType::kFloat32, {16}, true)},
                       17, {}, 1, 1e-4));
  cases.push_back(make("STFT_f64_complex_twosided", "STFT",
                       {data(DataType::kFloat64, {3, 41, 2}), values(DataType::kInt32, {}, {5}), omitted(),
                        values(DataType::kInt32, {}, {12})},
                       17, [](Attributes& a) { a.set_int("onesided", 0); }, 1, 1e-4));
  for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"}) {
    for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt32}) {
      for (int64_t periodic : {0, 1}) {
        cases.push_back(make(std::string(op) + "_" + dtype_name(t) + (periodic ? "_periodic" : "_symmetric"), op,
                             {values(DataType::kInt64, {}, {37})}, 17,
                             [t, periodic](Attributes& a) {
                               a.set_int("output_datatype", static_cast<int64_t>(t));
                               a.set_int("periodic", periodic);
                             },
                             1, tol_for(t)));
      }
    }
  }
  cases.push_back(make("MelWeightMatrix_f32", "MelWeightMatrix",
                       {values(DataType::kInt64, {}, {12}), values(DataType::kInt64, {}, {128}),
                        values(DataType::kInt64, {}, {8000}), values(DataType::kFloat32, {}, {20}),
                        values(DataType::kFloat32, {}, {3900})},
                       17, {}, 1));
}

// A body node with its schema looked up, as the importer leaves subgraph nodes.
void body_node(Graph& g, const std::string& op, std::vector<Value*> ins, std::vector<Value*> outs) {
  Node* n = g.add_node(op, std::move(ins), std::move(outs));
  n->opset = 17;
  n->schema = OpRegistry::global().find("", op, 17);
}

Attribute graph_attr(std::shared_ptr<Graph> g) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = std::move(g);
  return a;
}

void add_subgraph_cases(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  // If: each branch returns a constant of its own.
  for (bool cond : {true, false}) {
    cases.push_back(make(std::string("If_") + (cond ? "then" : "else"), "If",
                         {values(DataType::kBool, {}, {cond ? 1.0 : 0.0}, false)}, 17,
                         [](Attributes& a) {
                           for (int b = 0; b < 2; ++b) {
                             auto g = std::make_shared<Graph>();
                             g->name = b == 0 ? "then" : "else";
                             auto t = Tensor::allocate(DataType::kFloat32, {2, 3});
                             if (!t.ok()) return;
                             for (int i = 0; i < 6; ++i) t->data_as<float>()[i] = static_cast<float>(b == 0 ? i : -i);
                             g->add_output(g->add_constant(b == 0 ? "then_val" : "else_val", *t));
                             a.set(b == 0 ? "then_branch" : "else_branch", graph_attr(g));
                           }
                         },
                         1));
  }
  // Loop: 4 iterations of x = x + x with x also scanned out.
  cases.push_back(make("Loop_double_x4", "Loop",
                       {values(DataType::kInt64, {}, {4}), omitted(), data(f, {5, 7})}, 17,
                       [](Attributes& a) {
                         auto g = std::make_shared<Graph>();
                         g->name = "body";
                         Value* it = g->add_value("iter", DataType::kInt64, SymShape{});
                         Value* c = g->add_value("cond_in", DataType::kBool, SymShape{});
                         Value* x = g->add_value("x", DataType::kFloat32, sym_shape({5, 7}));
                         g->add_input(it);
                         g->add_input(c);
                         g->add_input(x);
                         Value* x2 = g->add_value("x2", DataType::kFloat32, sym_shape({5, 7}));
                         Value* co = g->add_value("cond_out", DataType::kBool, SymShape{});
                         Value* sc = g->add_value("scan", DataType::kFloat32, sym_shape({5, 7}));
                         body_node(*g, "Add", {x, x}, {x2});
                         body_node(*g, "Identity", {c}, {co});
                         body_node(*g, "Identity", {x2}, {sc});
                         g->add_output(co);
                         g->add_output(x2);
                         g->add_output(sc);
                         a.set("body", graph_attr(g));
                       },
                       2));
  // Scan: running sum over axis 1 in reverse, outputs stacked on axis 0.
  cases.push_back(make("Scan_cumsum_axis1_reverse", "Scan", {data(f, {3}), data(f, {3, 11})}, 17,
                       [](Attributes& a) {
                         auto g = std::make_shared<Graph>();
                         g->name = "body";
                         Value* s = g->add_value("s", DataType::kFloat32, sym_shape({3}));
                         Value* x = g->add_value("x", DataType::kFloat32, sym_shape({3}));
                         g->add_input(s);
                         g->add_input(x);
                         Value* s2 = g->add_value("s2", DataType::kFloat32, sym_shape({3}));
                         Value* o = g->add_value("o", DataType::kFloat32, sym_shape({3}));
                         body_node(*g, "Add", {s, x}, {s2});
                         body_node(*g, "Identity", {s2}, {o});
                         g->add_output(s2);
                         g->add_output(o);
                         a.set("body", graph_attr(g));
                         a.set_int("num_scan_inputs", 1);
                         a.set_ints("scan_input_axes", {1});
                         a.set_ints("scan_input_directions", {1});
                       },
                       2));
}

}  // namespace

void add_control_cases(std::vector<Case>& cases) {
  add_recurrent(cases, "RNN", 1);
  add_recurrent(cases, "GRU", 3);
  add_recurrent(cases, "LSTM", 4);
  add_recurrent_attr_cases(cases);
  add_signal_cases(cases);
  add_subgraph_cases(cases);
}

}  // namespace kiln::harness
