// A one-line progress indicator for long work (engine builds, conformance runs, benchmarks).
// It draws on stderr only when stderr is a terminal, and is silent otherwise (CI logs, pipes).
#pragma once

#include <cstddef>
#include <string>

namespace kiln {

class Progress {
 public:
  Progress(std::string label, size_t total, bool enabled = true);
  ~Progress();
  // Redraws at most ~10 times a second, or at once when `now` (news that stays for a while).
  void update(size_t done, const std::string& detail = "", bool now = false);
  void finish();

 private:
  std::string label_;
  size_t total_;
  bool active_;
  long long last_ms_ = 0;
};

}  // namespace kiln
