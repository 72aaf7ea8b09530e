// Element types. The numbering is ONNX's TensorProto.DataType so that files map one to one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
};

// Bytes per element; 0 for types kiln cannot hold in a tensor (string, complex). int4/uint4 are
// held unpacked, one element per byte, and packed two per byte only in ONNX files.
size_t dtype_size(DataType t);
// The ONNX spelling: "float32", "float16", "int64", "bool", ...
const char* dtype_name(DataType t);
// Parses dtype_name's spelling (and numpy aliases such as "float", "int"); kUndefined if unknown.
DataType dtype_from_name(const std::string& name);
// True for the types kiln's tensors and kernels handle.
bool dtype_is_supported(DataType t);
bool dtype_is_float(DataType t);  // f16, bf16, f32, f64 (and the f8 family)
bool dtype_is_signed_int(DataType t);
bool dtype_is_unsigned_int(DataType t);
inline bool dtype_is_int(DataType t) { return dtype_is_signed_int(t) || dtype_is_unsigned_int(t); }

}  // namespace kiln
