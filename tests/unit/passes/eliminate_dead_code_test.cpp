#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

// eliminate-dead-code runs in every run_passes_on call; here it is the only pass.
const std::vector<std::string> kOnly{};

TEST(EliminateDeadCode, NodesThatReachNoOutputGo) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(3), Dim::known(4)});
        Value* unused = b.op("Exp", {b.op("Neg", {x})});  // a chain nothing reads
        (void)unused;
        b.output(b.op("Relu", {x}));
        return b.take();
      },
      kOnly);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
}

TEST(EliminateDeadCode, AValueABranchReadsByNameStays) {
  // Sqrt's output is read only inside the If's then-branch (by name): not dead.
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(2)});
        Value* cond = b.input("cond", {}, DataType::kBool);
        Value* s = b.op("Sqrt", {b.op("Abs", {x})});
        auto branch = [&](const std::string& name, bool reads_s) {
          auto sg = std::make_shared<Graph>();
          sg->name = name;
          sg->parent = b.g.get();
          if (reads_s) {
            Value* ref = sg->add_value(s->name(), DataType::kFloat32, sym_shape({2}));
            sg->add_outer_ref(ref);
            sg->add_output(ref);
          } else {
            sg->add_output(sg->add_constant("zeros", f32({2}, {0})));
          }
          Attribute a;
          a.kind = Attribute::Kind::kGraph;
          a.g = sg;
          return a;
        };
        Value* y = b.op("If", {cond}, [&](Attributes& a) {
          a.set("then_branch", branch("then", true));
          a.set("else_branch", branch("else", false));
        });
        b.output(y);
        return b.take();
      },
      kOnly);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Abs", "Sqrt", "If"}));
}

}  // namespace
}  // namespace kiln::test
