// Finds where a protobuf message is damaged. protobuf's parser only says "failed"; users need to
// know where, so this walks the wire format of the top-level message and reports the first byte
// offset at which a field cannot be read (truncated varint, length past the end, bad wire type).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kiln {

struct WireFault {
  size_t offset;
  std::string what;
};

// nullopt when every top-level field is well-formed (the fault, if any, is deeper or semantic).
std::optional<WireFault> find_wire_fault(const std::string& bytes, int depth = 2);

}  // namespace kiln
