#include "backends/timing_cache.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace kiln {

namespace {

constexpr const char* kFormat = "kiln-timing-cache/1";

// What to do about a file that is not a cache, said once for every such error.
constexpr const char* kNotACacheAdvice = "delete it to start a fresh cache, or name another file";

std::string directory_of(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Result<TimingCache> TimingCache::parse(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& ex) {
    return corrupt(fmt::format("{} is not a kiln timing cache (not JSON: {}); {}", what, ex.what(), kNotACacheAdvice));
  }
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string()) {
    return corrupt(fmt::format("{} is not a kiln timing cache (no \"format\" field); {}", what, kNotACacheAdvice));
  }
  const std::string format = j["format"].get<std::string>();
  if (format != kFormat) {
    return corrupt(fmt::format("{} has format '{}', this kiln reads '{}'; {}", what, format, kFormat, kNotACacheAdvice));
  }
  if (!j.contains("entries") || !j["entries"].is_array()) {
    return corrupt(fmt::format("{} is damaged: \"entries\" is not a list; {}", what, kNotACacheAdvice));
  }
  TimingCache cache;
  size_t index = 0;
  for (const nlohmann::json& e : j["entries"]) {
    auto text_field = [&](const char* name) -> const nlohmann::json* {
      return e.is_object() && e.contains(name) && e[name].is_string() ? &e[name] : nullptr;
    };
    const nlohmann::json* device = text_field("device");
    const nlohmann::json* problem = text_field("problem");
    const nlohmann::json* record = text_field("record");
    if (!device || !problem || !record || !e.contains("ms") || !e["ms"].is_number()) {
      return corrupt(fmt::format("{} is damaged: entry {} needs the strings \"device\", \"problem\" and \"record\" and the number "
                                 "\"ms\"; {}",
                                 what, index, kNotACacheAdvice));
    }
    Entry entry{record->get<std::string>(), e["ms"].get<double>()};
    if (!std::isfinite(entry.ms)) entry.ms = -1;
    cache.entries_[{device->get<std::string>(), problem->get<std::string>()}] = std::move(entry);
    ++index;
  }
  return cache;
}

Result<TimingCache> TimingCache::open(const std::string& path) {
  const std::string what = fmt::format("timing cache '{}'", path);
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  TimingCache cache;
  if (status.type() == std::filesystem::file_type::not_found) {
    cache.changed_ = true;  // save() creates it, even when nothing is tuned
  } else if (ec) {
    return io_error(fmt::format("cannot read {}: {}", what, ec.message()));
  } else if (status.type() != std::filesystem::file_type::regular) {
    return invalid_argument(fmt::format("{} is not a regular file", what));
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f.is_open()) return io_error(fmt::format("cannot read {}: {}", what, std::strerror(errno)));
    std::ostringstream text;
    text << f.rdbuf();
    if (f.bad()) return io_error(fmt::format("cannot read {}", what));
    // An empty file (made by touch or mktemp to name the cache) is an empty cache.
    if (text.str().find_first_not_of(" \t\r\n") == std::string::npos) {
      cache.changed_ = true;
    } else {
      KILN_ASSIGN_OR_RETURN(cache, parse(text.str(), what));
    }
  }
  // save() writes a temporary beside the file and renames it: the directory must take both.
  const std::string dir = directory_of(path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return io_error(fmt::format("cannot write {}: directory '{}': {}", what, dir, std::strerror(errno)));
  }
  cache.path_ = path;
  return cache;
}

const TimingCache::Entry* TimingCache::find(const std::string& device, const std::string& problem) const {
  auto it = entries_.find({device, problem});
  return it == entries_.end() ? nullptr : &it->second;
}

void TimingCache::put(const std::string& device, const std::string& problem, Entry entry) {
  Entry& slot = entries_[{device, problem}];
  if (slot == entry) return;
  slot = std::move(entry);
  changed_ = true;
}

std::string TimingCache::serialize() const {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const auto& [key, e] : entries_) {
    entries.push_back({{"device", key.first}, {"problem", key.second}, {"record", e.record}, {"ms", e.ms}});
  }
  // ordered_json: "format" first, as a reader expects a file's kind at its top.
  const nlohmann::ordered_json j{{"format", kFormat}, {"entries", entries}};
  return j.dump(1) + "\n";
}

Status TimingCache::save() {
  if (path_.empty() || !changed_) return ok_status();
  const std::string text = serialize();
  // A name of this process's own, so two builds saving at once do not write one temporary.
  const std::string tmp = fmt::format("{}.tmp{}", path_, ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return io_error(fmt::format("cannot write timing cache '{}': {}", path_, std::strerror(errno)));
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return io_error(fmt::format("cannot write timing cache '{}' (disk full?)", path_));
    }
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return io_error(fmt::format("cannot write timing cache '{}': {}", path_, std::strerror(err)));
  }
  changed_ = false;
  return ok_status();
}

}  // namespace kiln
