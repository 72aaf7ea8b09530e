// Runs a generic lambda with the C++ type that stands for a DataType:
//   dispatch_dtype(t, [&](auto tag) { using T = typename decltype(tag)::type; ... });
// Each family below names the dtypes an op accepts; anything else is kUnsupported.
#pragma once

#include <cstdint>
#include <string>

#include "core/float16.h"
#include "core/float8.h"
#include "kiln/dtype.h"
#include "kiln/status.h"

namespace kiln {

template <typename T>
struct TypeTag {
  using type = T;
};

#define KILN_DTYPE_CASE_(DT, T) \
  case DataType::DT:            \
    return fn(TypeTag<T>{});

// float32, float64, float16, bfloat16
template <typename Fn>
Status dispatch_float(DataType t, Fn&& fn) {
  switch (t) {
    KILN_DTYPE_CASE_(kFloat32, float)
    KILN_DTYPE_CASE_(kFloat64, double)
    KILN_DTYPE_CASE_(kFloat16, Float16)
    KILN_DTYPE_CASE_(kBFloat16, BFloat16)
    default:
      return unsupported(std::string("dtype ") + dtype_name(t) + " (expected a float type)");
  }
}

// all signed and unsigned integers
template <typename Fn>
Status dispatch_int(DataType t, Fn&& fn) {
  switch (t) {
    KILN_DTYPE_CASE_(kInt8, int8_t)
    KILN_DTYPE_CASE_(kInt16, int16_t)
    KILN_DTYPE_CASE_(kInt32, int32_t)
    KILN_DTYPE_CASE_(kInt64, int64_t)
    KILN_DTYPE_CASE_(kUInt8, uint8_t)
    KILN_DTYPE_CASE_(kUInt16, uint16_t)
    KILN_DTYPE_CASE_(kUInt32, uint32_t)
    KILN_DTYPE_CASE_(kUInt64, uint64_t)
    default:
      return unsupported(std::string("dtype ") + dtype_name(t) + " (expected an integer type)");
  }
}

// floats and integers (not bool)
template <typename Fn>
Status dispatch_numeric(DataType t, Fn&& fn) {
  if (dtype_is_float(t)) return dispatch_float(t, fn);
  if (dtype_is_int(t)) return dispatch_int(t, fn);
  return unsupported(std::string("dtype ") + dtype_name(t) + " (expected a numeric type)");
}

// every dtype a kiln tensor holds, bool included (as uint8_t-sized bool)
template <typename Fn>
Status dispatch_all(DataType t, Fn&& fn) {
  if (t == DataType::kBool) return fn(TypeTag<bool>{});
  return dispatch_numeric(t, fn);
}

// The float8 family and int4/uint4 (one byte per element, see core/float8.h). Deliberately not
// part of dispatch_float/dispatch_numeric/dispatch_all: these types have no arithmetic, so ops
// that do not name them keep refusing them as unsupported. Their C++ types convert explicitly to
// and from float.
template <typename Fn>
Status dispatch_lowbit(DataType t, Fn&& fn) {
  switch (t) {
    KILN_DTYPE_CASE_(kFloat8E4M3FN, Float8E4M3FN)
    KILN_DTYPE_CASE_(kFloat8E4M3FNUZ, Float8E4M3FNUZ)
    KILN_DTYPE_CASE_(kFloat8E5M2, Float8E5M2)
    KILN_DTYPE_CASE_(kFloat8E5M2FNUZ, Float8E5M2FNUZ)
    KILN_DTYPE_CASE_(kInt4, Int4)
    KILN_DTYPE_CASE_(kUInt4, UInt4)
    default:
      return unsupported(std::string("dtype ") + dtype_name(t) + " (expected a float8 or 4-bit type)");
  }
}

inline bool dtype_is_float8(DataType t) {
  return t == DataType::kFloat8E4M3FN || t == DataType::kFloat8E4M3FNUZ ||
         t == DataType::kFloat8E5M2 || t == DataType::kFloat8E5M2FNUZ;
}
inline bool dtype_is_int4(DataType t) { return t == DataType::kInt4 || t == DataType::kUInt4; }
inline bool dtype_is_lowbit(DataType t) { return dtype_is_float8(t) || dtype_is_int4(t); }

#undef KILN_DTYPE_CASE_

// The DataType of a C++ element type.
template <typename T>
constexpr DataType dtype_of();
template <> constexpr DataType dtype_of<float>() { return DataType::kFloat32; }
template <> constexpr DataType dtype_of<double>() { return DataType::kFloat64; }
template <> constexpr DataType dtype_of<Float16>() { return DataType::kFloat16; }
template <> constexpr DataType dtype_of<BFloat16>() { return DataType::kBFloat16; }
template <> constexpr DataType dtype_of<int8_t>() { return DataType::kInt8; }
template <> constexpr DataType dtype_of<int16_t>() { return DataType::kInt16; }
template <> constexpr DataType dtype_of<int32_t>() { return DataType::kInt32; }
template <> constexpr DataType dtype_of<int64_t>() { return DataType::kInt64; }
template <> constexpr DataType dtype_of<uint8_t>() { return DataType::kUInt8; }
template <> constexpr DataType dtype_of<uint16_t>() { return DataType::kUInt16; }
template <> constexpr DataType dtype_of<uint32_t>() { return DataType::kUInt32; }
template <> constexpr DataType dtype_of<uint64_t>() { return DataType::kUInt64; }
template <> constexpr DataType dtype_of<bool>() { return DataType::kBool; }
template <> constexpr DataType dtype_of<Float8E4M3FN>() { return DataType::kFloat8E4M3FN; }
template <> constexpr DataType dtype_of<Float8E4M3FNUZ>() { return DataType::kFloat8E4M3FNUZ; }
template <> constexpr DataType dtype_of<Float8E5M2>() { return DataType::kFloat8E5M2; }
template <> constexpr DataType dtype_of<Float8E5M2FNUZ>() { return DataType::kFloat8E5M2FNUZ; }
template <> constexpr DataType dtype_of<Int4>() { return DataType::kInt4; }
template <> constexpr DataType dtype_of<UInt4>() { return DataType::kUInt4; }

// The type reference kernels compute in: float for the 16-bit floats, the type itself otherwise.
template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<Float16> {
  using type = float;
};
template <>
struct ComputeType<BFloat16> {
  using type = float;
};
template <typename T>
using compute_t = typename ComputeType<T>::type;

}  // namespace kiln
