// Turns exceptions thrown below kiln's API (std::bad_alloc from a kernel's scratch vectors, a
// library that throws) into Status values at the API boundary, so no exception escapes and a
// failed allocation is an out-of-memory error rather than an abort.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "kiln/status.h"

namespace kiln {

template <typename Fn>
auto guard(const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return out_of_memory(what + ": out of memory");
  } catch (const std::exception& e) {
    return internal_error(what + ": " + e.what());
  }
}

}  // namespace kiln
