// Shapes in the IR: each dim is a known size or a named symbol ("batch", "seq"); the rank itself
// may be unknown (std::nullopt) when inference cannot tell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;  // set when value is unknown and the dim has a name

  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim sym(std::string s) { return Dim{-1, std::move(s)}; }
  static Dim unknown() { return Dim{}; }
  bool is_known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
  std::string str() const { return is_known() ? std::to_string(value) : (symbol.empty() ? "?" : symbol); }
};

using SymShape = std::vector<Dim>;
using MaybeShape = std::optional<SymShape>;  // nullopt: rank unknown

inline SymShape sym_shape(const Dims& d) {
  SymShape s;
  s.reserve(d.size());
  for (int64_t v : d) s.push_back(Dim::known(v));
  return s;
}
// All dims known?
inline bool is_static(const MaybeShape& s) {
  if (!s) return false;
  for (const Dim& d : *s) {
    if (!d.is_known()) return false;
  }
  return true;
}
inline Dims static_dims(const SymShape& s) {
  Dims d;
  d.reserve(s.size());
  for (const Dim& x : s) d.push_back(x.value);
  return d;
}
std::string shape_to_string(const MaybeShape& s);

// Channels-last layouts (N, spatial..., C) and the channels-first ones ONNX uses (N, C, spatial...).
// The Transpose perm from channels-first to channels-last: [0, 2, ..., r-1, 1]; and back.
inline std::vector<int64_t> to_channels_last_perm(size_t rank) {
  std::vector<int64_t> p{0};
  for (size_t i = 2; i < rank; ++i) p.push_back(static_cast<int64_t>(i));
  p.push_back(1);
  return p;
}
inline std::vector<int64_t> to_channels_first_perm(size_t rank) {
  std::vector<int64_t> p{0, static_cast<int64_t>(rank) - 1};
  for (size_t i = 1; i + 1 < rank; ++i) p.push_back(static_cast<int64_t>(i));
  return p;
}
// A shape (Dims or SymShape, rank >= 2) permuted by one of those perms.
template <typename Shape>
Shape permuted_shape(const Shape& s, const std::vector<int64_t>& perm) {
  Shape out;
  out.reserve(perm.size());
  for (int64_t p : perm) out.push_back(s[static_cast<size_t>(p)]);
  return out;
}
template <typename Shape>
Shape channels_last_shape(const Shape& s) { return permuted_shape(s, to_channels_last_perm(s.size())); }
template <typename Shape>
Shape channels_first_shape(const Shape& s) { return permuted_shape(s, to_channels_first_perm(s.size())); }

// One element of a small integer tensor computed from shapes, as exporters write dynamic
// reshapes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape): a literal number (which may be
// 0 or -1, as Reshape reads them) or, when not a literal, a dim (the size of a named dim, or
// unknown). Inference tracks these so a Reshape to [batch, seq, 12, 64] keeps its symbols.
struct ShapeElem {
  std::optional<int64_t> number;
  Dim dim;  // when number is unset
  static ShapeElem literal(int64_t v) { return ShapeElem{v, Dim::unknown()}; }
  static ShapeElem of_dim(const Dim& d) { return d.is_known() ? literal(d.value) : ShapeElem{std::nullopt, d}; }
};
using ShapeElems = std::vector<ShapeElem>;  // "[batch,3,224,224]" or "[?]" for unknown rank

}  // namespace kiln
