#include "onnx/wire_check.h"

#include "fmt/format.h"

namespace kiln {

namespace {

bool read_varint(const std::string& b, size_t& pos, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= b.size()) return false;
    const auto c = static_cast<uint8_t>(b[pos++]);
    out |= static_cast<uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}

std::optional<WireFault> walk(const std::string& b, size_t begin, size_t end, int depth, size_t base) {
  size_t pos = begin;
  while (pos < end) {
    const size_t field_start = pos;
    uint64_t tag = 0;
    if (!read_varint(b, pos, tag) || pos > end) return WireFault{base + field_start, "truncated field tag"};
    const uint64_t field = tag >> 3;
    const auto wire = static_cast<int>(tag & 7);
    if (field == 0) return WireFault{base + field_start, "field number 0"};
    switch (wire) {
      case 0: {
        uint64_t v;
        if (!read_varint(b, pos, v) || pos > end) {
          return WireFault{base + field_start, fmt::format("truncated varint in field {}", field)};
        }
        break;
      }
      case 1:
        if (end - pos < 8) return WireFault{base + field_start, fmt::format("truncated 64-bit field {}", field)};
        pos += 8;
        break;
      case 5:
        if (end - pos < 4) return WireFault{base + field_start, fmt::format("truncated 32-bit field {}", field)};
        pos += 4;
        break;
      case 2: {
        uint64_t len;
        if (!read_varint(b, pos, len) || pos > end) {
          return WireFault{base + field_start, fmt::format("truncated length of field {}", field)};
        }
        if (len > end - pos) {
          return WireFault{base + field_start,
                           fmt::format("field {} claims {} bytes but only {} remain", field, len, end - pos)};
        }
        // Nested messages (graph, node, tensor) are checked a level or two deeper when they parse
        // as messages; strings and packed arrays that don't are left alone.
        if (depth > 0) {
          auto inner = walk(b, pos, pos + len, depth - 1, base);
          (void)inner;  // only a hint: a string may look like a broken message
        }
        pos += len;
        break;
      }
      default:
        return WireFault{base + field_start, fmt::format("invalid wire type {} in field {}", wire, field)};
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<WireFault> find_wire_fault(const std::string& bytes, int depth) {
  return walk(bytes, 0, bytes.size(), depth, 0);
}

}  // namespace kiln
