#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "fmt/format.h"
#include "kiln/tensor.h"

namespace kiln {

int64_t element_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

std::string dims_to_string(const Dims& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

namespace {
constexpr size_t kAlignment = 64;
// Largest single tensor kiln will allocate; guards against absurd shapes from damaged files.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 40;
}  // namespace

Result<Tensor> Tensor::allocate(DataType dtype, Dims dims) {
  const size_t esize = dtype_size(dtype);
  if (esize == 0) return unsupported(fmt::format("tensors of dtype {}", dtype_name(dtype)));
  const int64_t n = element_count(dims);
  if (n < 0) return invalid_argument(fmt::format("invalid shape {}", dims_to_string(dims)));
  if (n > kMaxTensorBytes / static_cast<int64_t>(esize)) {
    return out_of_memory(fmt::format("tensor {}[{}] is too large", dtype_name(dtype),
                                     dims_to_string(dims)));
  }
  const size_t bytes = static_cast<size_t>(n) * esize;
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (!p) {
    return out_of_memory(
        fmt::format("cannot allocate {} bytes for {}[{}]", bytes, dtype_name(dtype), dims_to_string(dims)));
  }
  std::memset(p, 0, rounded == 0 ? kAlignment : rounded);
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.data_ = p;
  t.holder_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return t;
}

Tensor Tensor::wrap(DataType dtype, Dims dims, void* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.data_ = data;
  t.holder_ = std::move(keepalive);
  return t;
}

Result<Tensor> Tensor::clone() const {
  KILN_ASSIGN_OR_RETURN(Tensor t, allocate(dtype_, dims_));
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Result<Tensor> Tensor::reshaped(Dims dims) const {
  if (element_count(dims) != numel()) {
    return invalid_argument(fmt::format("cannot view {} elements as {}", numel(), dims_to_string(dims)));
  }
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

std::string Tensor::describe() const {
  return fmt::format("{}[{}]", dtype_name(dtype_), dims_to_string(dims_));
}

}  // namespace kiln
