#include "backends/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include "fmt/format.h"

namespace kiln::cuda {

Status cuda_status(int error, const std::string& what) {
  const auto e = static_cast<cudaError_t>(error);
  if (e == cudaSuccess) return ok_status();
  return internal_error(fmt::format("CUDA error while {}: {} ({})", what, cudaGetErrorString(e), cudaGetErrorName(e)));
}

Status cuda_device_status() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return unsupported(fmt::format("no CUDA device: {}", cudaGetErrorString(e)));
  if (count == 0) return unsupported("no CUDA device on this machine");
  return ok_status();
}

std::string cuda_device_signature() {
  cudaDeviceProp p{};
  int device = 0, driver = 0, runtime = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&p, device) != cudaSuccess) return "no CUDA device";
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  return fmt::format("{} sm_{}{}, driver {}.{}, CUDA runtime {}.{}", p.name, p.major, p.minor, driver / 1000, driver % 1000 / 10,
                     runtime / 1000, runtime % 1000 / 10);
}

Result<void*> CudaDevice::allocate(size_t bytes) const {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (e != cudaSuccess) {
    cudaGetLastError();  // cudaMalloc's failure is not sticky; clear it for the next call
    return out_of_memory(fmt::format("cannot allocate {} bytes of GPU memory: {}", bytes, cudaGetErrorString(e)));
  }
  return p;
}

void CudaDevice::free(void* p) const { cudaFree(p); }

Result<void*> CudaDevice::create_stream() const {
  cudaStream_t s = nullptr;
  KILN_RETURN_IF_ERROR(cuda_status(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream"));
  return static_cast<void*>(s);
}

void CudaDevice::destroy_stream(void* stream) const { cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }

Status CudaDevice::copy_to_device(void* dst, const void* src, size_t bytes, void* stream) const {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)),
                     fmt::format("copying {} bytes to the GPU", bytes));
}

Status CudaDevice::copy_to_host(void* dst, const void* src, size_t bytes, void* stream) const {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream)),
                     fmt::format("copying {} bytes from the GPU", bytes));
}

Status CudaDevice::synchronize(void* stream) const {
  return cuda_status(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "running the GPU's queued work");
}

}  // namespace kiln::cuda
