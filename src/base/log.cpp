// Structured one-line-per-event logger (see include/mxgate/base/log.h).
// Runs on any thread; configuration is read through atomics, each line is a single write(2).
#include "mxgate/base/log.h"

#include "mxgate/base/clock.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace mxgate::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::atomic<int> g_format{static_cast<int>(Format::Text)};
std::atomic<int> g_fd{2};

constexpr std::string_view levelName(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

std::string timestamp() { return formatRfc3339(nowMicros(), 6); }

bool needsQuotes(std::string_view value) {
  if (value.empty()) {
    return true;
  }
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=') {
      return true;
    }
  }
  return false;
}

void appendJsonString(std::string& out, std::string_view value) {
  out.push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void configure(Level minimum, Format format, int fd) {
  g_level.store(static_cast<int>(minimum));
  g_format.store(static_cast<int>(format));
  g_fd.store(fd);
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

bool parseLevel(std::string_view text, Level& out) {
  for (Level level : {Level::Debug, Level::Info, Level::Warn, Level::Error}) {
    if (text == levelName(level)) {
      out = level;
      return true;
    }
  }
  return false;
}

std::string escape(std::string_view value, size_t max_len) {
  std::string out;
  out.reserve(value.size() < max_len ? value.size() : max_len);
  size_t taken = 0;
  for (unsigned char c : value) {
    if (taken == max_len) {
      out += "...";
      break;
    }
    ++taken;
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Line::Line(Level level, std::string_view id, std::string_view event)
    : active_(enabled(level)), format_(static_cast<Format>(g_format.load(std::memory_order_relaxed))) {
  if (!active_) {
    return;
  }
  text_.reserve(256);
  if (format_ == Format::Json) {
    text_ += "{\"ts\":\"";
    text_ += timestamp();
    text_ += "\",\"level\":\"";
    text_ += levelName(level);
    text_ += "\",\"id\":";
    appendJsonString(text_, escape(id, 64));
    text_ += ",\"event\":";
    appendJsonString(text_, event);
  } else {
    text_ += timestamp();
    text_.push_back(' ');
    text_ += levelName(level);
    text_.push_back(' ');
    text_ += id.empty() ? std::string("-") : escape(id, 64);
    text_ += ": event=";
    text_ += event;
  }
}

Line::Line(Line&& other) noexcept
    : active_(other.active_), format_(other.format_), text_(std::move(other.text_)) {
  other.active_ = false;
}

Line::~Line() {
  if (!active_) {
    return;
  }
  text_ += format_ == Format::Json ? "}\n" : "\n";
  const char* data = text_.data();
  size_t left = text_.size();
  int fd = g_fd.load(std::memory_order_relaxed);
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

void Line::appendKey(std::string_view key) {
  if (format_ == Format::Json) {
    text_ += ",\"";
    text_ += key;
    text_ += "\":";
  } else {
    text_.push_back(' ');
    text_ += key;
    text_.push_back('=');
  }
}

Line& Line::kv(std::string_view key, std::string_view value) {
  if (!active_) {
    return *this;
  }
  appendKey(key);
  std::string escaped = escape(value);
  if (format_ == Format::Json) {
    appendJsonString(text_, escaped);
  } else if (needsQuotes(escaped)) {
    text_.push_back('"');
    text_ += escaped;
    text_.push_back('"');
  } else {
    text_ += escaped;
  }
  return *this;
}

Line& Line::kv(std::string_view key, long long value) {
  if (active_) {
    appendKey(key);
    text_ += fmt::format("{}", value);
  }
  return *this;
}

Line& Line::kv(std::string_view key, unsigned long long value) {
  if (active_) {
    appendKey(key);
    text_ += fmt::format("{}", value);
  }
  return *this;
}

Line& Line::kv(std::string_view key, double value) {
  if (active_) {
    appendKey(key);
    text_ += fmt::format("{:.3f}", value);
  }
  return *this;
}

Line& Line::kv(std::string_view key, bool value) {
  if (active_) {
    appendKey(key);
    text_ += value ? "true" : "false";
  }
  return *this;
}

}  // namespace mxgate::log
