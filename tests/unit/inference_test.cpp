// Shape inference: symbolic broadcasting, and shape arithmetic on a symbolic batch that the
// builder keeps symbolic and the runtime resolves per call.
#include <gtest/gtest.h>

#include "ir/inference.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;
using test::op;

SymShape S(std::initializer_list<Dim> d) { return SymShape(d); }
Dim K(int64_t v) { return Dim::known(v); }
Dim Y(const char* s) { return Dim::sym(s); }

TEST(Inference, BroadcastShapesWithSymbols) {
  auto r = broadcast_shapes(S({Y("batch"), K(1), K(3)}), S({K(4), K(1)}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, S({Y("batch"), K(4), K(3)}));

  r = broadcast_shapes(S({Y("batch"), K(3)}), S({K(1), K(3)}));  // a symbol against 1 stays
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, S({Y("batch"), K(3)}));

  r = broadcast_shapes(S({K(1)}), S({Y("seq")}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, S({Y("seq")}));

  r = broadcast_shapes(S({Y("seq"), K(2)}), S({Y("seq"), K(2)}));  // equal symbols
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, S({Y("seq"), K(2)}));

  r = broadcast_shapes(S({K(2), K(3)}), S({}));  // a scalar
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, S({K(2), K(3)}));

  r = broadcast_shapes(S({K(5), K(1), K(11), K(1)}), S({K(7), K(1), K(13)}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, S({K(5), K(7), K(11), K(13)}));

  r = broadcast_shapes(S({K(3)}), S({K(4)}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "3") && contains(r.status().message(), "4")) << r.status().message();
}

TEST(Inference, ReshapeMinusOneTakesTheOneSymbolLeft) {
  // [batch, 4, 8] -> [-1, 4, 2, 4]: the known sizes match, so -1 is batch.
  auto r = reshape_output_shape(S({Y("batch"), K(4), K(8)}), std::vector<int64_t>{-1, 4, 2, 4}, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, S({Y("batch"), K(4), K(2), K(4)}));
  // [batch, seq, 8] -> [-1, 8] stays unknown: the -1 is batch·seq, no one symbol.
  r = reshape_output_shape(S({Y("batch"), Y("seq"), K(8)}), std::vector<int64_t>{-1, 8}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)[0].is_known());
  EXPECT_TRUE((*r)[0].symbol.empty());
  // [batch, 4, 8] -> [-1, 16]: the -1 is 2·batch, not batch.
  r = reshape_output_shape(S({Y("batch"), K(4), K(8)}), std::vector<int64_t>{-1, 16}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].symbol.empty());
  // Symbols on both sides cancel as before: [batch, seq, 8] -> [batch, -1] is seq·8, unknown.
  r = reshape_output_shape(S({Y("batch"), Y("seq"), K(8)}), ShapeElems{ShapeElem::of_dim(Y("batch")), ShapeElem::literal(-1)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[1].symbol.empty());
}

// y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [2, 3])) with x: float32[batch, 6].
std::unique_ptr<Graph> shape_arith_graph() {
  auto g = test::new_graph(17);
  Value* x = test::input(*g, "x", DataType::kFloat32, S({Y("batch"), K(6)}));
  Value* idx = g->add_constant("idx", test::i64({}, {0}));
  Value* axes = g->add_constant("axes", test::i64({1}, {0}));
  Value* tail = g->add_constant("tail", test::i64({2}, {2, 3}));
  Value* s = g->add_value("s");
  Value* b = g->add_value("b");
  Value* bu = g->add_value("bu");
  Value* shape = g->add_value("shape");
  Value* y = g->add_value("y");
  op(*g, "Shape", {x}, {s}, "shape_of");
  op(*g, "Gather", {s, idx}, {b}, "batch_of");
  op(*g, "Unsqueeze", {b, axes}, {bu}, "unsq");
  Node* cat = op(*g, "Concat", {bu, tail}, {shape}, "cat");
  cat->attrs.set_int("axis", 0);
  op(*g, "Reshape", {x, shape}, {y}, "reshape");
  g->add_output(y);
  return g;
}

TEST(Inference, ShapeArithmeticKeepsTheSymbol) {
  auto g = shape_arith_graph();
  ASSERT_TRUE(infer_and_annotate(*g).ok());
  const Value* shape = g->find_value("shape");
  ASSERT_TRUE(shape->shape.has_value());
  EXPECT_EQ(*shape->shape, S({K(3)}));
  EXPECT_EQ(shape->dtype, DataType::kInt64);
  const Value* y = g->find_value("y");
  EXPECT_EQ(y->dtype, DataType::kFloat32);
  ASSERT_TRUE(y->shape.has_value());
  ASSERT_EQ(y->shape->size(), 3u);
  // Symbolically the shape tensor is [batch, 2, 3]; inference does not carry partly known shape
  // values today, so y may be [?, ?, ?]. Whatever it knows must be right, and the batch is never
  // a fixed number.
  EXPECT_FALSE((*y->shape)[0].is_known()) << shape_to_string(y->shape);
  if ((*y->shape)[1].is_known()) {
    EXPECT_EQ((*y->shape)[1], K(2));
  }
  if ((*y->shape)[2].is_known()) {
    EXPECT_EQ((*y->shape)[2], K(3));
  }

  // At concrete input shapes, inference computes the shape tensor outright.
  ValueStates states = initial_states(*g);
  ValueState xs;
  xs.dtype = DataType::kFloat32;
  xs.shape = sym_shape({4, 6});
  states[g->find_value("x")] = xs;
  InferenceOptions opts;
  opts.evaluate = [](const Node& n, const std::vector<const Tensor*>& ins) { return evaluate_node(n, ins); };
  ASSERT_TRUE(infer_graph(*g, states, opts).ok());
  const ValueState& ss = states[g->find_value("shape")];
  ASSERT_TRUE(ss.value.has_value());
  EXPECT_EQ(std::vector<int64_t>(ss.value->data_as<int64_t>(), ss.value->data_as<int64_t>() + 3),
            (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(states[g->find_value("y")].shape, MaybeShape(sym_shape({4, 2, 3})));
}

TEST(Inference, RuntimeResolvesTheSymbolPerCall) {
  auto engine = test::build(shape_arith_graph());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  ASSERT_EQ(engine->outputs().size(), 1u);
  ASSERT_EQ(engine->outputs()[0].dims.size(), 3u);
  EXPECT_EQ(engine->outputs()[0].dims[0], -1);
  auto ctx = engine->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  for (int64_t batch : {1, 4, 2, 4, 7}) {
    std::vector<float> vals;
    for (int64_t i = 0; i < batch * 6; ++i) vals.push_back(static_cast<float>(i) * 0.5f - static_cast<float>(batch));
    NamedTensors out;
    ASSERT_TRUE((*ctx)->run({{"x", test::f32({batch, 6}, vals)}}, &out).ok());
    const Tensor& y = out.at("y");
    EXPECT_EQ(y.shape(), (Dims{batch, 2, 3})) << "batch " << batch;
    EXPECT_EQ(test::floats(y), vals) << "batch " << batch;
  }
}

TEST(Inference, ErrorsNameTheNode) {
  auto g = test::new_graph(17);
  Value* a = test::input(*g, "a", DataType::kFloat32, sym_shape({3}));
  Value* b = test::input(*g, "b", DataType::kFloat32, sym_shape({4}));
  Value* c = g->add_value("c");
  op(*g, "Add", {a, b}, {c}, "bad_add");
  g->add_output(c);
  Status s = infer_and_annotate(*g);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "bad_add")) << s.message();
}

}  // namespace
}  // namespace kiln
