#include "backends/reference/kernels/control/signal_common.h"

#include <cmath>
#include <numbers>

#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status store_doubles(Tensor& t, const std::vector<double>& v) {
  return dispatch_numeric(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_as<T>();
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_integral_v<T>) {
        // Out-of-range float-to-int casts are undefined in C++: saturate instead.
        const double x = std::trunc(v[i]);
        const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
        const double hi = static_cast<double>(std::numeric_limits<T>::max());
        p[i] = std::isnan(x) ? T(0) : (x <= lo ? std::numeric_limits<T>::lowest()
                                               : (x >= hi ? std::numeric_limits<T>::max() : static_cast<T>(x)));
      } else {
        p[i] = static_cast<T>(static_cast<compute_t<T>>(v[i]));
      }
    }
    return ok_status();
  });
}

Result<DataType> output_datatype_of(const KernelContext& ctx) {
  const int64_t v = ctx.attrs().get_int("output_datatype", 1);
  if (v <= 0 || v > static_cast<int64_t>(DataType::kInt4)) {
    return ctx.error(fmt::format("attribute 'output_datatype' is {}, not an ONNX data type", v));
  }
  const DataType t = static_cast<DataType>(v);
  if (!dtype_is_supported(t) || !(dtype_is_float(t) || dtype_is_int(t))) {
    return ctx.unsupported_error(fmt::format("output_datatype {} is not supported", dtype_name(t)));
  }
  return t;
}

Result<std::optional<int64_t>> scalar_int_of(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (!t) return std::optional<int64_t>{};
  auto v = read_int64s(*t);
  if (!v.ok()) return ctx.error(fmt::format("input {} '{}': {}", i, name, v.status().message()));
  if (v->size() != 1) return ctx.error(fmt::format("input {} '{}' has {} values, expected 1", i, name, v->size()));
  return std::optional<int64_t>{(*v)[0]};
}

void dft_1d(const double* re, const double* im, int64_t count, int64_t n, bool inverse, double* out_re,
            double* out_im) {
  const int64_t m = count < n ? count : n;
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < n; ++k) {
    double sr = 0, si = 0;
    for (int64_t j = 0; j < m; ++j) {
      // (k*j) mod n keeps the angle small, so cos/sin stay accurate for long transforms.
      const double ang = sign * 2.0 * std::numbers::pi * static_cast<double>((k * j) % n) / static_cast<double>(n);
      const double c = std::cos(ang), s = std::sin(ang);
      sr += re[j] * c - im[j] * s;
      si += re[j] * s + im[j] * c;
    }
    if (inverse) {
      sr /= static_cast<double>(n);
      si /= static_cast<double>(n);
    }
    out_re[k] = sr;
    out_im[k] = si;
  }
}

}  // namespace kiln
