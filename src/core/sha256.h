#pragma once

#include <string>

namespace kiln {
// Lower-case hex SHA-256 of `bytes` (OpenSSL).
std::string sha256_hex(const std::string& bytes);
}  // namespace kiln
