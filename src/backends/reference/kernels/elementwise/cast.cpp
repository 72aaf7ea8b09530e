// Cast and CastLike between every pair of kiln dtypes. float8 and int4/uint4 convert through
// float (see cast_lowbit); 'saturate' (opset 19+) decides what out-of-range values become in
// float8.
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"
#include "fmt/format.h"

namespace kiln {

namespace {

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <typename T>
constexpr bool kIsInt4 = std::is_same_v<T, Int4> || std::is_same_v<T, UInt4>;
template <typename T>
constexpr bool kIsLowbit = kIsInt4<T> || std::is_same_v<T, Float8E4M3FN> ||
                           std::is_same_v<T, Float8E4M3FNUZ> || std::is_same_v<T, Float8E5M2> ||
                           std::is_same_v<T, Float8E5M2FNUZ>;
template <typename T>
constexpr bool kIsFloatLike = std::is_floating_point_v<T> || kIsHalf<T>;

// double -> float rounded to odd: when inexact, the last mantissa bit is forced to 1. Rounding
// that float to a 16-bit float then gives the correctly rounded result of double -> 16-bit (a
// plain double -> float -> half would round twice and can be off by one ulp at ties).
float round_to_odd_float(double d) {
  float f = static_cast<float>(d);
  if (std::isnan(d) || static_cast<double>(f) == d) return f;
  if (std::abs(static_cast<double>(f)) > std::abs(d)) f = std::nextafter(f, 0.0f);  // toward zero
  return bits_to_float(float_to_bits(f) | 1u);
}

// A double as float type To, rounded once.
template <typename To>
To from_double(double d) {
  if constexpr (kIsHalf<To>) {
    return To(round_to_odd_float(d));
  } else {
    return static_cast<To>(d);
  }
}

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (kIsHalf<From>) {
      return static_cast<float>(v) != 0.0f;  // NaN is true, like numpy
    } else {
      return v != From(0);
    }
  } else if constexpr (std::is_same_v<From, bool>) {
    if constexpr (kIsHalf<To>) {
      return To(v ? 1.0f : 0.0f);
    } else {
      return static_cast<To>(v ? 1 : 0);
    }
  } else if constexpr (kIsFloatLike<From>) {
    using C = compute_t<From>;
    const C c = static_cast<C>(v);
    if constexpr (kIsFloatLike<To>) {
      if constexpr (kIsHalf<To>) {
        if constexpr (std::is_same_v<C, double>) {
          return from_double<To>(c);
        } else {
          return To(c);  // float -> 16-bit: one rounding
        }
      } else {
        return static_cast<To>(c);
      }
    } else {
      return float_to_int<To>(static_cast<double>(c));  // truncates toward zero
    }
  } else {  // From is an integer
    if constexpr (kIsHalf<To>) {
      return from_double<To>(static_cast<double>(v));
    } else {
      return static_cast<To>(v);  // int -> int wraps (C++20), int -> float rounds
    }
  }
}

// Casts from or to a float8 or 4-bit type pass through float, as the ONNX reference does: every
// float8 and int4 value is exact in float, and a float8 or int4 result is encoded from the source
// converted to float32 first (so a double source rounds twice, as in the reference). Integer
// sources into int4/uint4 clamp to the 4-bit range like floats do, rather than wrapping: that is
// what the reference (float32 -> clip -> round half to even) does.
Status cast_lowbit(const Tensor& x, Tensor* y, DataType to, bool saturate) {
  std::vector<float> v(static_cast<size_t>(x.numel()));
  auto read = [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    const From* in = x.data_as<From>();
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (kIsLowbit<From>) {
        v[i] = static_cast<float>(in[i]);
      } else {
        v[i] = convert<float>(in[i]);
      }
    }
    return ok_status();
  };
  KILN_RETURN_IF_ERROR(dtype_is_lowbit(x.dtype()) ? dispatch_lowbit(x.dtype(), read)
                                                  : dispatch_all(x.dtype(), read));
  if (dtype_is_lowbit(to)) {
    return dispatch_lowbit(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      To* out = y->data_as<To>();
      for (size_t i = 0; i < v.size(); ++i) {
        if constexpr (kIsInt4<To>) {
          out[i] = To(v[i]);
        } else {
          out[i] = To(v[i], saturate);
        }
      }
      return ok_status();
    });
  }
  return dispatch_all(to, [&](auto to_tag) {
    using To = typename decltype(to_tag)::type;
    To* out = y->data_as<To>();
    for (size_t i = 0; i < v.size(); ++i) out[i] = convert<To>(v[i]);
    return ok_status();
  });
}

Status cast_to(KernelContext& ctx, const Tensor& x, DataType to) {
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, to, x.shape()));
  if (x.dtype() == to) {
    if (x.nbytes() > 0) std::memcpy(y->data(), x.data(), x.nbytes());
    return ok_status();
  }
  if (dtype_is_lowbit(x.dtype()) || dtype_is_lowbit(to)) {
    // 'saturate' appeared with the float8 types (opset 19); default 1.
    const bool saturate = ctx.node().opset < 19 || ctx.attrs().get_int("saturate", 1) != 0;
    return cast_lowbit(x, y, to, saturate);
  }
  return dispatch_all(x.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    return dispatch_all(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* in = x.data_as<From>();
      To* out = y->data_as<To>();
      for (int64_t i = 0; i < x.numel(); ++i) out[i] = convert<To>(in[i]);
      return ok_status();
    });
  });
}

Status check_dtypes(KernelContext& ctx, DataType from, DataType to) {
  if (!dtype_is_supported(from) || !dtype_is_supported(to)) {
    return ctx.unsupported_error(
        fmt::format("cast from {} to {}", dtype_name(from), dtype_name(to)));
  }
  return ok_status();
}

}  // namespace

Status ref_cast(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  const int64_t to = ctx.attrs().get_int("to", 0);
  if (to <= 0 || to > static_cast<int64_t>(DataType::kInt4)) {
    return ctx.error(fmt::format("attribute 'to' is {}, not an ONNX data type", to));
  }
  const DataType t = static_cast<DataType>(to);
  KILN_RETURN_IF_ERROR(check_dtypes(ctx, x.dtype(), t));
  return cast_to(ctx, x, t);
}

Status ref_cast_like(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  KILN_ASSIGN_OR_RETURN(const Tensor* like, required_input(ctx, 1));
  const DataType t = like->dtype();
  KILN_RETURN_IF_ERROR(check_dtypes(ctx, x.dtype(), t));
  return cast_to(ctx, x, t);
}

}  // namespace kiln
