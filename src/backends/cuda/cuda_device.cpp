#include "backends/cuda/cuda_device.h"

#include <algorithm>

#include <cuda_runtime_api.h>

#include "backends/cuda/libs/cublaslt_matmul.h"
#include "backends/cuda/libs/cudnn_conv.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

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

std::string library_version_text(int64_t v) { return fmt::format("{}.{}.{}", v / 10000, v % 10000 / 100, v % 100); }

std::string cuda_device_signature() {
  cudaDeviceProp p{};
  int device = 0, driver = 0, runtime = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&p, device) != cudaSuccess) {
    cudaGetLastError();
    return "no CUDA device";
  }
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  return fmt::format("{} sm_{}{}, driver {}.{}, CUDA runtime {}.{}, cuDNN {}, cuBLASLt {}", p.name, p.major, p.minor, driver / 1000,
                     driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, library_version_text(cudnn_runtime_version()),
                     library_version_text(static_cast<int64_t>(cublaslt_version())));
}

namespace {

// A signature's parts by name: "GPU" for the first ("NVIDIA H200 sm_90"), then each ", name
// version" part by its name ("driver", "CUDA runtime", "cuDNN", "cuBLASLt").
std::vector<std::pair<std::string, std::string>> signature_parts(const std::string& signature) {
  std::vector<std::pair<std::string, std::string>> parts;
  size_t start = 0;
  while (start <= signature.size()) {
    size_t end = signature.find(", ", start);
    if (end == std::string::npos) end = signature.size();
    const std::string part = signature.substr(start, end - start);
    if (parts.empty()) {
      parts.emplace_back("GPU", part);
    } else {
      // The version is the last word; the name is what comes before it.
      const size_t space = part.rfind(' ');
      if (space == std::string::npos) parts.emplace_back(part, "");
      else parts.emplace_back(part.substr(0, space), part.substr(space + 1));
    }
    start = end + 2;
  }
  return parts;
}

}  // namespace

std::optional<std::string> cuda_signature_mismatch(const std::string& built_for, const std::string& here) {
  if (built_for == here) return std::nullopt;
  const auto built = signature_parts(built_for);
  const auto mine = signature_parts(here);
  auto value_in = [](const std::vector<std::pair<std::string, std::string>>& parts, const std::string& name) -> std::optional<std::string> {
    for (const auto& [n, v] : parts) {
      if (n == name) return v;
    }
    return std::nullopt;
  };
  std::vector<std::string> names;  // every part either side names, in the order they appear
  for (const auto* parts : {&mine, &built}) {
    for (const auto& [n, v] : *parts) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  std::vector<std::string> differences;
  for (const std::string& name : names) {
    // A newer driver runs what an older one did, and neither the kernels nor the tuned choices
    // depend on it: the driver is recorded, not required.
    if (name == "driver") continue;
    const auto a = value_in(built, name), b = value_in(mine, name);
    if (a == b) continue;
    differences.push_back(fmt::format("{} {} at build time, {} here", name, a ? *a : "not recorded", b ? *b : "none"));
  }
  if (differences.empty()) return std::nullopt;
  return fmt::format("{}", fmt::join(differences, "; "));
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

Result<void*> CudaDevice::allocate_host(size_t bytes) const {
  void* p = nullptr;
  // Portable: the memory is page-locked for every device, not only the current one.
  const cudaError_t e = cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocPortable);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return out_of_memory(fmt::format("cannot allocate {} bytes of page-locked host memory: {}", bytes, cudaGetErrorString(e)));
  }
  return p;
}

void CudaDevice::free_host(void* p) const { cudaFreeHost(p); }

bool CudaDevice::is_device_memory(const void* p) const {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();  // an unknown pointer is an error only for this call
    return false;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

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

Status CudaDevice::copy_on_device(void* dst, const void* src, size_t bytes, void* stream) const {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream)),
                     fmt::format("copying {} bytes on the GPU", bytes));
}

Status CudaDevice::begin_capture(void* stream) const {
  // Thread-local: a call from this thread that is not allowed while capturing (a cudaMalloc, a
  // synchronization) fails the capture instead of being recorded wrongly, and other threads
  // (other contexts) keep working while this one captures.
  return cuda_status(cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal),
                     "beginning a CUDA graph capture");
}

Result<void*> CudaDevice::end_capture(void* stream) const {
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &graph);
  if (ended != cudaSuccess || !graph) {
    cudaGetLastError();  // capture errors are not sticky: clear this one so the next call is clean
    if (graph) cudaGraphDestroy(graph);
    return unsupported(fmt::format("the stream's work could not be captured into a CUDA graph: {}", cudaGetErrorString(ended)));
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);  // the executable graph is independent of the graph it came from
  if (made != cudaSuccess) {
    cudaGetLastError();
    return unsupported(fmt::format("the captured CUDA graph could not be instantiated: {}", cudaGetErrorString(made)));
  }
  return static_cast<void*>(exec);
}

Status CudaDevice::launch_graph(void* graph, void* stream) const {
  return cuda_status(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), static_cast<cudaStream_t>(stream)), "launching a CUDA graph");
}

void CudaDevice::destroy_graph(void* graph) const {
  if (graph) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}

Result<void*> CudaDevice::create_event() const {
  cudaEvent_t event = nullptr;
  KILN_RETURN_IF_ERROR(cuda_status(cudaEventCreate(&event), "creating a CUDA event"));
  return static_cast<void*>(event);
}

Status CudaDevice::record_event(void* event, void* stream) const {
  return cuda_status(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)), "recording a CUDA event");
}

Result<float> CudaDevice::elapsed_ms(void* start, void* end) const {
  float ms = 0;
  KILN_RETURN_IF_ERROR(cuda_status(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)),
                                   "reading the time between two CUDA events"));
  return ms;
}

void CudaDevice::destroy_event(void* event) const {
  if (event) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

Status CudaDevice::synchronize(void* stream) const {
  return cuda_status(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "running the GPU's queued work");
}

}  // namespace kiln::cuda
