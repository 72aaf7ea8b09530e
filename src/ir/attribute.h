// Node attributes, as ONNX defines them. Getters take a default or return a Result naming the
// attribute, so op code reads `attrs.get_int("axis", 0)` and validation stays one line.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

class Graph;

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs };
  Kind kind = Kind::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
};

const char* attribute_kind_name(Attribute::Kind k);

class Attributes {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  const Attribute* find(const std::string& name) const;
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void set_int(const std::string& name, int64_t v);
  void set_float(const std::string& name, float v);
  void set_string(const std::string& name, std::string v);
  void set_ints(const std::string& name, std::vector<int64_t> v);
  void set_floats(const std::string& name, std::vector<float> v);
  void set_tensor(const std::string& name, Tensor v);
  void erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, Attribute>& all() const { return map_; }
  size_t size() const { return map_.size(); }

  // With a default: the default if absent; if present with the wrong kind, the default too
  // (the importer has already checked kinds against the schema where it matters).
  int64_t get_int(const std::string& name, int64_t def) const;
  float get_float(const std::string& name, float def) const;
  std::string get_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const;

  // Required: an error naming the attribute if absent or of another kind.
  Result<int64_t> require_int(const std::string& name) const;
  Result<float> require_float(const std::string& name) const;
  Result<std::string> require_string(const std::string& name) const;
  Result<std::vector<int64_t>> require_ints(const std::string& name) const;
  Result<Tensor> require_tensor(const std::string& name) const;
  Result<std::shared_ptr<Graph>> require_graph(const std::string& name) const;

 private:
  Result<const Attribute*> require(const std::string& name, Attribute::Kind kind) const;
  std::map<std::string, Attribute> map_;
};

}  // namespace kiln
