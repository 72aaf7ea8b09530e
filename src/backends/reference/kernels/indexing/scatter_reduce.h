// The reduction ScatterElements and ScatterND apply where an update lands.
#pragma once

#include <string>

#include "core/dispatch.h"

namespace kiln::indexing {

enum class ScatterReduction { kNone, kAdd, kMul, kMax, kMin };

inline bool parse_scatter_reduction(const std::string& s, ScatterReduction& out) {
  if (s == "none") out = ScatterReduction::kNone;
  else if (s == "add") out = ScatterReduction::kAdd;
  else if (s == "mul") out = ScatterReduction::kMul;
  else if (s == "max") out = ScatterReduction::kMax;
  else if (s == "min") out = ScatterReduction::kMin;
  else return false;
  return true;
}

// dst = reduce(dst, upd), computed in compute_t<T> and rounded once. Bool: add is or, mul is and.
template <typename T>
inline void scatter_apply(T& dst, const T& upd, ScatterReduction red) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<T, bool>) {
    switch (red) {
      case ScatterReduction::kNone: dst = upd; break;
      case ScatterReduction::kAdd:
      case ScatterReduction::kMax: dst = dst || upd; break;
      case ScatterReduction::kMul:
      case ScatterReduction::kMin: dst = dst && upd; break;
    }
  } else {
    const C a = static_cast<C>(dst), b = static_cast<C>(upd);
    switch (red) {
      case ScatterReduction::kNone: dst = upd; break;
      case ScatterReduction::kAdd: dst = static_cast<T>(static_cast<C>(a + b)); break;
      case ScatterReduction::kMul: dst = static_cast<T>(static_cast<C>(a * b)); break;
      case ScatterReduction::kMax: dst = static_cast<T>(b > a ? b : a); break;
      case ScatterReduction::kMin: dst = static_cast<T>(b < a ? b : a); break;
    }
  }
}

}  // namespace kiln::indexing
