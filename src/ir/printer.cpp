#include "ir/printer.h"

#include "fmt/format.h"

namespace kiln {

namespace {

std::string attr_string(const Attribute& a, int indent) {
  switch (a.kind) {
    case Attribute::Kind::kFloat: return fmt::format("{}", a.f);
    case Attribute::Kind::kInt: return std::to_string(a.i);
    case Attribute::Kind::kString: return fmt::format("\"{}\"", a.s);
    case Attribute::Kind::kTensor: return fmt::format("tensor {}", a.t.describe());
    case Attribute::Kind::kGraph: return "\n" + print_graph(*a.g, indent + 4);
    case Attribute::Kind::kFloats: return fmt::format("[{}]", fmt::join(a.floats, ","));
    case Attribute::Kind::kInts: return fmt::format("[{}]", fmt::join(a.ints, ","));
    case Attribute::Kind::kStrings: return fmt::format("[\"{}\"]", fmt::join(a.strings, "\",\""));
    case Attribute::Kind::kTensors: return fmt::format("{} tensors", a.tensors.size());
    case Attribute::Kind::kGraphs: {
      std::string s;
      for (const auto& g : a.graphs) s += "\n" + print_graph(*g, indent + 4);
      return s;
    }
  }
  return "?";
}

std::string operand(const Value* v) {
  if (!v) return "_";
  if (v->constant) return fmt::format("%{}[const {}]", v->name(), v->type_string());
  return "%" + v->name();
}

}  // namespace

std::string print_graph(const Graph& g, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  std::string out = fmt::format("{}graph {} (", pad, g.name);
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    out += fmt::format("{}{}: {}", i ? ", " : "", g.inputs()[i]->name(), g.inputs()[i]->type_string());
  }
  out += ") -> (";
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    out += fmt::format("{}{}: {}", i ? ", " : "", g.outputs()[i]->name(), g.outputs()[i]->type_string());
  }
  out += ")\n";
  for (const auto& n : g.nodes()) {
    std::string outs, ins, attrs;
    for (const Value* v : n->outputs()) outs += (outs.empty() ? "" : ", ") + operand(v);
    for (const Value* v : n->inputs()) ins += (ins.empty() ? "" : ", ") + operand(v);
    for (const auto& [k, a] : n->attrs.all()) attrs += fmt::format("{}{}={}", attrs.empty() ? "" : ", ", k, attr_string(a, indent));
    out += fmt::format("{}  {} = {}({}){}", pad, outs, n->op_type, ins, attrs.empty() ? "" : " {" + attrs + "}");
    if (n->fused_from.size() > 1 || (n->fused_from.size() == 1 && n->fused_from[0] != n->name)) {
      out += fmt::format("  # from {}", fmt::join(n->fused_from, ", "));
    }
    out += "\n";
  }
  return out;
}

}  // namespace kiln
