// The timing cache: what build-time tuning chose for each layer problem on each device, kept in
// a file between builds (BuilderConfig::timing_cache, `kiln build --timing-cache FILE`), so a
// rebuild replays the choices instead of timing again: faster, and the same choices every time.
//
// An entry is keyed by a device string (the GPU and the library that makes the choice, with its
// version: "NVIDIA H200 sm_90 cuDNN 91400") and a problem string (the layer as the library sees
// it: op kind, shapes, dtypes, layout, epilogue, TF32), and holds the chosen record (the library's
// own text, replayed and checked by the library) and its measured time. Lookups match both keys
// exactly, so entries of another GPU or library version are never used; they stay in the file, so
// one cache may serve several machines.
//
// The file is JSON, entries sorted by key (the same entries give the same bytes):
//
//   {"format": "kiln-timing-cache/1",
//    "entries": [{"device": "...", "problem": "...", "record": "...", "ms": 0.031}, ...]}
//
// A missing (or empty) file is an empty cache, created by save(). A file that exists but is not a timing
// cache (not JSON, another format, a damaged entry) is an error naming it rather than a warning
// and a fresh cache: the file was named on purpose, and replacing it would destroy what is there
// (a mistyped path may name any file). One TimingCache belongs to one build; it is not shared
// between threads.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "kiln/status.h"

namespace kiln {

class TimingCache {
 public:
  struct Entry {
    std::string record;  // the library's record text
    double ms = -1;      // its measured median time; -1 when unknown
    bool operator==(const Entry&) const = default;
  };

  // An empty cache that is not backed by a file (save() does nothing).
  TimingCache() = default;

  // The cache in `path`: empty when the file does not exist or is empty (save() then writes it). An error
  // naming the file when it cannot be read or is not a timing cache, and when its directory
  // cannot be written (found before tuning, not after).
  static Result<TimingCache> open(const std::string& path);
  // The entries of a cache file's text; `what` names it in messages.
  static Result<TimingCache> parse(const std::string& text, const std::string& what);

  // The entry for this device and problem, or nullptr.
  const Entry* find(const std::string& device, const std::string& problem) const;
  // Adds or replaces an entry.
  void put(const std::string& device, const std::string& problem, Entry entry);

  size_t size() const { return entries_.size(); }
  const std::string& path() const { return path_; }
  // The file's text (format above).
  std::string serialize() const;
  // Writes the file (a temporary beside it, then renamed over it, so a reader never sees half a
  // cache) when entries changed or the file did not exist; nothing for a cache without a path.
  Status save();

 private:
  std::string path_;
  bool changed_ = false;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace kiln
