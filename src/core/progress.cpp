#include "core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace kiln {

namespace {
long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Progress::Progress(std::string label, size_t total, bool enabled)
    : label_(std::move(label)), total_(total), active_(enabled && ::isatty(STDERR_FILENO)) {}

Progress::~Progress() { finish(); }

void Progress::update(size_t done, const std::string& detail, bool now) {
  if (!active_) return;
  const long long t = now_ms();
  if (!now && done < total_ && t - last_ms_ < 100) return;
  last_ms_ = t;
  const int pct = total_ ? static_cast<int>(100 * done / total_) : 100;
  std::string d = detail.size() > 40 ? detail.substr(0, 37) + "..." : detail;
  std::fprintf(stderr, "\r\033[K%s: %zu/%zu (%d%%) %s", label_.c_str(), done, total_, pct, d.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!active_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  active_ = false;
}

}  // namespace kiln
