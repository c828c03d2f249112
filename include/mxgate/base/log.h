// Structured logging: one line per event, queue id (or session id) first, then key=value
// pairs. Untrusted values are escaped (control bytes become \xNN) and truncated, so a log
// line can never be split or forged by peer input. Thread-safe: each line is one write(2)
// on the configured descriptor, so lines from different threads never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mxgate::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class Format { Text, Json };

// Called once at start-up (and again on reload); fd defaults to stderr.
void configure(Level minimum, Format format, int fd = 2);
bool enabled(Level level);
// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parseLevel(std::string_view text, Level& out);

// Escapes control bytes, quotes and backslashes; cuts at max_len bytes (appending "...").
std::string escape(std::string_view value, size_t max_len = 256);

// One log line under construction; it is written when the object is destroyed.
class Line {
 public:
  Line(Level level, std::string_view id, std::string_view event);
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  Line(Line&& other) noexcept;
  ~Line();

  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, long long value);
  Line& kv(std::string_view key, unsigned long long value);
  Line& kv(std::string_view key, long value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, unsigned long value) { return kv(key, static_cast<unsigned long long>(value)); }
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, unsigned value) { return kv(key, static_cast<unsigned long long>(value)); }
  Line& kv(std::string_view key, double value);
  Line& kv(std::string_view key, bool value);

 private:
  void appendKey(std::string_view key);
  bool active_;
  Format format_;
  std::string text_;
};

inline Line debug(std::string_view id, std::string_view event) { return Line(Level::Debug, id, event); }
inline Line info(std::string_view id, std::string_view event) { return Line(Level::Info, id, event); }
inline Line warn(std::string_view id, std::string_view event) { return Line(Level::Warn, id, event); }
inline Line error(std::string_view id, std::string_view event) { return Line(Level::Error, id, event); }

}  // namespace mxgate::log
