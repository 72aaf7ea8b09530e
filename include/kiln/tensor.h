// A host tensor: element type, shape and a pointer to row-major data. A Tensor either owns its
// buffer (allocate) or views memory owned elsewhere (wrap: an arena slice, an mmap'd engine,
// the caller's array); copies of a Tensor share the same buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/status.h"

namespace kiln {

using Dims = std::vector<int64_t>;

// Number of elements of a shape (1 for a scalar); -1 if a dim is negative or the count overflows.
int64_t element_count(const Dims& dims);
// "1x3x224x224"; "scalar" for rank 0.
std::string dims_to_string(const Dims& dims);

class Tensor {
 public:
  Tensor() = default;

  // A new 64-byte-aligned buffer, zero-filled. Fails on unsupported dtypes, negative dims or
  // when memory runs out.
  static Result<Tensor> allocate(DataType dtype, Dims dims);
  // A view of `data`, which must hold element_count(dims) elements and outlive the view unless
  // `keepalive` owns it.
  static Tensor wrap(DataType dtype, Dims dims, void* data,
                     std::shared_ptr<const void> keepalive = nullptr);

  DataType dtype() const { return dtype_; }
  const Dims& shape() const { return dims_; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t dim(int64_t i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t numel() const { return element_count(dims_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return dtype_ != DataType::kUndefined; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }

  // A deep copy with its own buffer.
  Result<Tensor> clone() const;
  // Same buffer, another shape of the same element count.
  Result<Tensor> reshaped(Dims dims) const;
  // "float32[1x3x224x224]"
  std::string describe() const;

 private:
  DataType dtype_ = DataType::kUndefined;
  Dims dims_;
  void* data_ = nullptr;
  std::shared_ptr<const void> holder_;
};

}  // namespace kiln
