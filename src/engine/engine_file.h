// The engine file:
//
//   offset 0   preamble (80 bytes, little-endian)
//                magic "KILNENG\0", u32 format version, u32 preamble size,
//                u64 header offset/size, u64 graph offset/size, u64 blob offset/size,
//                u64 XXH3-64 checksum of every byte after the preamble, u64 reserved
//   header     JSON: producer, backend, device signature, build options, source model SHA-256
//   graph      JSON: the optimized graph and plan (values, nodes, attributes, kernels)
//   blob       the weights, each tensor at a 64-byte-aligned offset
//
// Loading maps the file and checks, in order: size, magic, format version, section bounds,
// checksum, header (backend and device), graph; constants become views of the mapping.
#pragma once

#include <memory>
#include <string>

#include "runtime/engine_state.h"

namespace kiln {

constexpr uint32_t kEngineFormatVersion = 2;  // 2: per-node precision and backend_data

Result<std::string> serialize_engine(const EngineState& e);
// `bytes` must stay alive as long as the returned state: `storage` owns it.
Result<std::shared_ptr<EngineState>> deserialize_engine(const void* data, size_t size,
                                                        std::shared_ptr<const void> storage,
                                                        const std::string& what);
Result<std::shared_ptr<EngineState>> load_engine_file(const std::string& path);

}  // namespace kiln
