#include <array>
#include <string>

#include "kiln/dtype.h"
#include "kiln/status.h"

namespace kiln {

namespace {
struct DtypeRow {
  DataType type;
  const char* name;
  size_t size;
};
constexpr std::array<DtypeRow, 23> kDtypes = {{
    {DataType::kUndefined, "undefined", 0},
    {DataType::kFloat32, "float32", 4},
    {DataType::kUInt8, "uint8", 1},
    {DataType::kInt8, "int8", 1},
    {DataType::kUInt16, "uint16", 2},
    {DataType::kInt16, "int16", 2},
    {DataType::kInt32, "int32", 4},
    {DataType::kInt64, "int64", 8},
    {DataType::kString, "string", 0},
    {DataType::kBool, "bool", 1},
    {DataType::kFloat16, "float16", 2},
    {DataType::kFloat64, "float64", 8},
    {DataType::kUInt32, "uint32", 4},
    {DataType::kUInt64, "uint64", 8},
    {DataType::kComplex64, "complex64", 0},
    {DataType::kComplex128, "complex128", 0},
    {DataType::kBFloat16, "bfloat16", 2},
    // float8 is one byte; int4/uint4 are held unpacked, one element per byte (packed two per byte
    // only in ONNX TensorProtos), so every byte-moving code path handles them unchanged.
    {DataType::kFloat8E4M3FN, "float8e4m3fn", 1},
    {DataType::kFloat8E4M3FNUZ, "float8e4m3fnuz", 1},
    {DataType::kFloat8E5M2, "float8e5m2", 1},
    {DataType::kFloat8E5M2FNUZ, "float8e5m2fnuz", 1},
    {DataType::kUInt4, "uint4", 1},
    {DataType::kInt4, "int4", 1},
}};

const DtypeRow* row(DataType t) {
  const auto i = static_cast<size_t>(t);
  return i < kDtypes.size() ? &kDtypes[i] : nullptr;
}
}  // namespace

size_t dtype_size(DataType t) {
  const DtypeRow* r = row(t);
  return r ? r->size : 0;
}

const char* dtype_name(DataType t) {
  const DtypeRow* r = row(t);
  return r ? r->name : "unknown";
}

DataType dtype_from_name(const std::string& name) {
  for (const auto& r : kDtypes) {
    if (name == r.name) return r.type;
  }
  if (name == "float") return DataType::kFloat32;
  if (name == "double") return DataType::kFloat64;
  if (name == "half") return DataType::kFloat16;
  if (name == "int") return DataType::kInt32;
  if (name == "long") return DataType::kInt64;
  return DataType::kUndefined;
}

bool dtype_is_supported(DataType t) { return dtype_size(t) != 0; }

bool dtype_is_float(DataType t) {
  switch (t) {
    case DataType::kFloat32:
    case DataType::kFloat64:
    case DataType::kFloat16:
    case DataType::kBFloat16:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:
      return true;
    default:
      return false;
  }
}

bool dtype_is_signed_int(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}

bool dtype_is_unsigned_int(DataType t) {
  return t == DataType::kUInt8 || t == DataType::kUInt16 || t == DataType::kUInt32 ||
         t == DataType::kUInt64;
}

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kIncompatible: return "incompatible";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

}  // namespace kiln
