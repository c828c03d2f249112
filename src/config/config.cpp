// Loads the node file (conf/mxgate.toml) and the tenant policy files (policies/*.toml),
// checks them against the schema (schema.cpp) and builds one immutable Config snapshot.
// Every problem becomes a ConfigError with file, line and key; all of them are reported.
// The only translation unit that includes toml11 (it costs seconds to compile).
// Runs on whichever thread loads or reloads the configuration (start-up, SIGHUP, `mxgate check`).
#include "mxgate/config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <toml.hpp>

#include "dkim_key_file.h"
#include "schema.h"
#include "values.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/ip_network.h"
#include "mxgate/base/redact.h"
#include "mxgate/base/utf8.h"
#include "mxgate/bounce/classifier.h"

namespace mxgate::config {

using schema::Key;
using schema::Parsed;
using schema::Type;

namespace {

using Value = toml::basic_value<toml::discard_comments>;
using Table = Value::table_type;
using Array = Value::array_type;

constexpr size_t kMaxFileSize = 16 * 1024 * 1024;
constexpr size_t kMaxEcho = 100;  // bytes of an offending value repeated in a message

// True when target is one of the comma-separated names in only_for ("smtp,webhook").
bool targetListed(std::string_view only_for, std::string_view target) {
  while (!only_for.empty()) {
    const size_t comma = only_for.find(',');
    if (only_for.substr(0, comma) == target) {
      return true;
    }
    only_for = comma == std::string_view::npos ? std::string_view() : only_for.substr(comma + 1);
  }
  return false;
}

// Control bytes become \xNN and long text is cut, so one error stays one printable line.
std::string printable(std::string_view text, size_t max_len = kMaxEcho) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == max_len) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string quote(std::string_view text) { return "\"" + printable(text) + "\""; }

int lineOf(const Value& value) { return static_cast<int>(value.location().line()); }

std::string typeName(const Value& value) {
  switch (value.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime: return "a date-time";
    case toml::value_t::local_date: return "a date";
    case toml::value_t::local_time: return "a time";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: break;
  }
  return "nothing";
}

std::string wrongType(std::string_view expected, const Value& value) {
  return fmt::format("wrong type: expected {}, got {}", expected, typeName(value));
}

// Finds the first line on which arrays, inline tables or dotted-key parts nest deeper than
// schema::kMaxNesting, skipping strings and comments the way TOML 1.0 delimits them; 0 if none.
// A dotted value (a float, a date-time) has at most one dot between separators, so counting
// dots since the last separator bounds the depth of a dotted key.
int deepNestingLine(std::string_view text) {
  enum class State { Normal, Comment, Basic, Literal, MultiBasic, MultiLiteral };
  State state = State::Normal;
  int line = 1;
  int depth = 0;
  int dots = 0;
  size_t i = 0;
  auto startsWith = [&](std::string_view token) { return text.substr(i, token.size()) == token; };
  // After the closing delimiter of a multi-line string, up to two more quotes belong to it.
  auto closeMulti = [&](char quote) {
    i += 3;
    for (int extra = 0; extra < 2 && i < text.size() && text[i] == quote; ++extra) {
      ++i;
    }
    state = State::Normal;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    }
    switch (state) {
      case State::Normal:
        if (c == '#') {
          state = State::Comment;
        } else if (startsWith("\"\"\"")) {
          state = State::MultiBasic;
          i += 3;
          continue;
        } else if (startsWith("'''")) {
          state = State::MultiLiteral;
          i += 3;
          continue;
        } else if (c == '"') {
          state = State::Basic;
        } else if (c == '\'') {
          state = State::Literal;
        } else if (c == '[' || c == '{') {
          dots = 0;
          if (++depth > schema::kMaxNesting) {
            return line;
          }
        } else if (c == ']' || c == '}') {
          dots = 0;
          depth = std::max(depth - 1, 0);
        } else if (c == '=' || c == ',' || c == '\n') {
          dots = 0;
        } else if (c == '.' && ++dots > schema::kMaxNesting) {
          return line;
        }
        break;
      case State::Comment:
        if (c == '\n') {
          state = State::Normal;
          dots = 0;
        }
        break;
      case State::Basic:
        if (c == '\\') {
          ++i;
          if (i < text.size() && text[i] == '\n') {
            ++line;
          }
        } else if (c == '"' || c == '\n') {
          state = State::Normal;
        }
        break;
      case State::Literal:
        if (c == '\'' || c == '\n') {
          state = State::Normal;
        }
        break;
      case State::MultiBasic:
        if (c == '\\') {
          ++i;
          if (i < text.size() && text[i] == '\n') {
            ++line;
          }
        } else if (startsWith("\"\"\"")) {
          closeMulti('"');
          continue;
        }
        break;
      case State::MultiLiteral:
        if (startsWith("'''")) {
          closeMulti('\'');
          continue;
        }
        break;
    }
    ++i;
  }
  return 0;
}

// The first line of a toml11 message without its "[error] toml::function: " decoration.
std::string syntaxMessage(std::string_view what) {
  std::string_view first = what.substr(0, what.find('\n'));
  if (first.starts_with("[error] ")) {
    first.remove_prefix(8);
  }
  if (first.starts_with("toml::")) {
    const size_t colon = first.find(": ");
    if (colon != std::string_view::npos) {
      first.remove_prefix(colon + 2);
    }
  }
  return "TOML syntax error: " + printable(first, 200);
}

// Errors of one file. The rank orders files in the final report.
class Sink {
 public:
  Sink(std::vector<std::pair<size_t, ConfigError>>& out, size_t rank, std::string file)
      : out_(out), rank_(rank), file_(std::move(file)) {}

  void add(int line, std::string_view key, std::string message) {
    out_.push_back({rank_, ConfigError{file_, line, printable(key), std::move(message)}});
  }
  const std::string& file() const { return file_; }

 private:
  std::vector<std::pair<size_t, ConfigError>>& out_;
  size_t rank_;
  std::string file_;
};

std::optional<Value> parseToml(const std::string& text, Sink& sink) {
  // TOML documents are UTF-8 (TOML 1.0 "Spec"); checking first also keeps invalid bytes away
  // from toml11 3.7.1, which reads out of bounds reporting them inside '...' strings.
  if (const size_t valid = utf8::validPrefix(text); valid != text.size()) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(valid), '\n');
    sink.add(static_cast<int>(line), "", "not valid UTF-8 (a TOML file must be UTF-8)");
    return std::nullopt;
  }
  if (const int line = deepNestingLine(text); line != 0) {
    sink.add(line, "",
             fmt::format("arrays, inline tables or dotted keys nested deeper than {} levels", schema::kMaxNesting));
    return std::nullopt;
  }
  try {
    std::istringstream in(text);
    return toml::parse<toml::discard_comments>(in, sink.file());
  } catch (const toml::exception& e) {
    sink.add(static_cast<int>(e.location().line()), "", syntaxMessage(e.what()));
  } catch (const std::exception& e) {
    sink.add(0, "", syntaxMessage(e.what()));
  }
  return std::nullopt;
}

// The schema defaults, parsed once from their TOML literals ("smtp.max_recipients" = 1000).
const Table& defaults() {
  static const Table table = [] {
    std::string text;
    auto add = [&text](const auto& keys) {
      for (const auto& key : keys) {
        if (!key.default_value.empty()) {
          text += fmt::format("\"{}\" = {}\n", key.name, key.default_value);
        }
      }
    };
    add(schema::nodeKeys());
    add(schema::listenerKeys());
    add(schema::policyKeys());
    add(schema::dkimKeyKeys());
    std::istringstream in(text);
    return toml::parse<toml::discard_comments>(in, "<schema defaults>").as_table();
  }();
  return table;
}

// The value at a dotted path below table, or nullptr. parent_line receives the line of the
// deepest table found on the way (0 for the document root).
const Value* findPath(const Table& table, std::string_view path, int& parent_line) {
  const Table* current = &table;
  while (true) {
    const size_t dot = path.find('.');
    const auto it = current->find(std::string(path.substr(0, dot)));
    if (it == current->end()) {
      return nullptr;
    }
    if (dot == std::string_view::npos) {
      return &it->second;
    }
    if (!it->second.is_table()) {
      return nullptr;
    }
    parent_line = lineOf(it->second);
    current = &it->second.as_table();
    path.remove_prefix(dot + 1);
  }
}

std::string outOfRange(Type type, uint64_t min, uint64_t max) {
  return fmt::format("out of range: must be between {} and {}", schema::formatBound(type, min),
                     schema::formatBound(type, max));
}

std::string_view resolutionName(uint64_t resolution) {
  switch (resolution) {
    case schema::kSecond: return "seconds";
    case schema::kMillisecond: return "milliseconds";
    default: return "microseconds";
  }
}

// Length, control bytes and the key's own check, shared by strings and array elements (entry:
// the element's 1-based position, 0 for a string).
template <class Target>
bool checkText(const std::string& text, const Key<Target>& key, int line, Sink& sink, size_t entry = 0) {
  if (key.type == Type::String && text.size() < key.min) {
    sink.add(line, key.name, "must not be empty");
    return false;
  }
  const size_t longest = key.type == Type::String ? std::min<uint64_t>(key.max, schema::kMaxStringLength)
                                                  : schema::kMaxStringLength;
  if (text.size() > longest) {
    sink.add(line, key.name, fmt::format("longer than {} bytes", longest));
    return false;
  }
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    sink.add(line, key.name, "must not contain control characters");
    return false;
  }
  if (key.check != nullptr) {
    if (const std::string reason = key.check(text); !reason.empty()) {
      switch (key.echo) {
        case schema::Echo::Value: sink.add(line, key.name, fmt::format("invalid value {}: {}", quote(text), reason)); break;
        case schema::Echo::Url:
          sink.add(line, key.name, fmt::format("invalid value {}: {}", quote(redactUrl(text)), reason));
          break;
        case schema::Echo::Never:
          sink.add(line, key.name,
                   entry == 0 ? fmt::format("invalid value (not shown): {}", reason)
                              : fmt::format("invalid value (entry {}, not shown): {}", entry, reason));
          break;
      }
      return false;
    }
  }
  return true;
}

// Type check and unit conversion of one value; reports its own errors.
template <class Target>
bool convert(const Value& value, const Key<Target>& key, Sink& sink, Parsed& out) {
  const int line = lineOf(value);
  auto fail = [&](std::string message) {
    sink.add(line, key.name, std::move(message));
    return false;
  };
  auto bounded = [&](uint64_t number) {
    if (number < key.min || number > key.max) {
      return fail(outOfRange(key.type, key.min, key.max));
    }
    out.number = number;
    return true;
  };
  switch (key.type) {
    case Type::Bool:
      if (!value.is_boolean()) {
        return fail(wrongType("a boolean (true or false)", value));
      }
      out.flag = value.as_boolean();
      return true;
    case Type::Integer:
      if (!value.is_integer()) {
        return fail(wrongType("an integer", value));
      }
      if (value.as_integer() < 0) {
        return fail(outOfRange(key.type, key.min, key.max));
      }
      return bounded(static_cast<uint64_t>(value.as_integer()));
    case Type::String:
      if (!value.is_string()) {
        return fail(wrongType("a string", value));
      }
      out.text = value.as_string().str;
      return checkText(out.text, key, line, sink);
    case Type::Enum: {
      std::string allowed;
      for (std::string_view choice : key.choices) {
        allowed += (allowed.empty() ? "\"" : ", \"") + std::string(choice) + "\"";
      }
      if (!value.is_string()) {
        return fail(wrongType(fmt::format("a string, one of {}", allowed), value));
      }
      const std::string& text = value.as_string().str;
      const auto it = std::find(key.choices.begin(), key.choices.end(), text);
      if (it == key.choices.end()) {
        const std::string hint = key.check != nullptr ? key.check(text) : "";
        return fail(fmt::format("invalid value {}: must be one of {}{}", quote(text), allowed,
                                hint.empty() ? "" : " (" + hint + ")"));
      }
      out.choice = static_cast<size_t>(it - key.choices.begin());
      out.text = text;
      return true;
    }
    case Type::Duration: {
      if (value.is_integer()) {
        return fail(fmt::format("a duration needs a unit, e.g. \"30s\" (units: {})", values::kDurationUnits));
      }
      if (!value.is_string()) {
        return fail(wrongType("a duration string such as \"30s\"", value));
      }
      const std::string& text = value.as_string().str;
      uint64_t micros = 0;
      switch (values::parseDuration(text, micros)) {
        case values::UnitStatus::BadSyntax:
          return fail(fmt::format("bad duration {}: expected an integer followed by a unit ({})", quote(text),
                                  values::kDurationUnits));
        case values::UnitStatus::TooLarge: return fail(outOfRange(key.type, key.min, key.max));
        case values::UnitStatus::Ok: break;
      }
      if (!bounded(micros)) {
        return false;
      }
      if (micros % key.resolution != 0) {
        return fail(fmt::format("must be a whole number of {}", resolutionName(key.resolution)));
      }
      out.number = micros / key.resolution;
      return true;
    }
    case Type::Size: {
      if (value.is_integer()) {
        if (value.as_integer() < 0) {
          return fail(outOfRange(key.type, key.min, key.max));
        }
        return bounded(static_cast<uint64_t>(value.as_integer()));
      }
      if (!value.is_string()) {
        return fail(wrongType("a byte count or a size string such as \"64KiB\"", value));
      }
      const std::string& text = value.as_string().str;
      uint64_t bytes = 0;
      switch (values::parseSize(text, bytes)) {
        case values::UnitStatus::BadSyntax:
          return fail(fmt::format("bad size {}: expected a byte count or an integer followed by a unit ({})",
                                  quote(text), values::kSizeUnits));
        case values::UnitStatus::TooLarge: return fail(outOfRange(key.type, key.min, key.max));
        case values::UnitStatus::Ok: break;
      }
      return bounded(bytes);
    }
    case Type::StringArray: {
      if (!value.is_array()) {
        return fail(wrongType("an array of strings", value));
      }
      const auto& array = value.as_array();
      if (array.size() < key.min) {
        return fail("must not be empty");
      }
      if (array.size() > key.max) {
        return fail(fmt::format("more than {} entries", key.max));
      }
      bool ok = true;
      for (const Value& element : array) {
        if (!element.is_string()) {
          sink.add(lineOf(element), key.name, wrongType("a string", element));
          ok = false;
          continue;
        }
        out.list.push_back(element.as_string().str);
        ok = checkText(out.list.back(), key, lineOf(element), sink, out.list.size()) && ok;
      }
      return ok;
    }
  }
  return false;
}

// Where a key was found: line 0 when the default was used.
struct Outcome {
  bool ok = false;
  bool present = false;
  int line = 0;
  std::string text;       // the String or Enum value stored
  std::string canonical;  // the value in one text per meaning (Config::settings)
};

// One text per value: units normalised ("60s" and "1m" both give "1m"), lists in brackets.
template <class Target>
std::string canonical(const Key<Target>& key, const Parsed& parsed) {
  switch (key.type) {
    case Type::Bool: return parsed.flag ? "true" : "false";
    case Type::Integer: return std::to_string(parsed.number);
    case Type::Duration: return schema::formatBound(key.type, parsed.number * key.resolution);
    case Type::Size: return schema::formatBound(key.type, parsed.number);
    case Type::String:
    case Type::Enum: return parsed.text;
    case Type::StringArray: {
      std::string out = "[";
      for (const std::string& element : parsed.list) {
        out += (out.size() > 1 ? ", \"" : "\"") + element + "\"";
      }
      return out + "]";
    }
  }
  return "";
}

// Reads one key below scope (path = the key name without the scope's prefix): the file's
// value if present, otherwise the default, otherwise "missing required key".
template <class Target>
Outcome readKey(const Table& scope, std::string_view path, const Key<Target>& key, Target& target, Sink& sink,
                int scope_line) {
  Outcome outcome;
  int parent_line = scope_line;
  const Value* value = findPath(scope, path, parent_line);
  if (value != nullptr) {
    outcome.present = true;
    outcome.line = lineOf(*value);
  } else if (key.default_value.empty()) {
    sink.add(parent_line, key.name, "missing required key");
    return outcome;
  } else {
    value = &defaults().at(std::string(key.name));
  }
  Parsed parsed;
  if (convert(*value, key, sink, parsed)) {
    key.store(target, parsed);
    outcome.ok = true;
    outcome.canonical = canonical(key, parsed);
    outcome.text = std::move(parsed.text);
  }
  return outcome;
}

// The names valid in one scope, for finding unknown keys and suggesting the intended one.
class KeyNames {
 public:
  template <class Target>
  void add(std::span<const Key<Target>> keys) {
    for (const auto& key : keys) {
      keys_.emplace_back(key.name);
      for (size_t dot = key.name.find('.'); dot != std::string_view::npos; dot = key.name.find('.', dot + 1)) {
        if (!isSection(key.name.substr(0, dot))) {
          sections_.emplace_back(key.name.substr(0, dot));
        }
      }
    }
  }
  bool isKey(std::string_view name) const { return std::find(keys_.begin(), keys_.end(), name) != keys_.end(); }
  bool isSection(std::string_view name) const {
    return std::find(sections_.begin(), sections_.end(), name) != sections_.end();
  }
  std::string unknown(std::string_view name) const {
    constexpr size_t kMaxDistance = 2;
    std::string_view best;
    size_t best_distance = kMaxDistance + 1;
    for (const auto* names : {&keys_, &sections_}) {
      for (const std::string& candidate : *names) {
        const size_t distance = values::editDistance(name, candidate, kMaxDistance);
        // A candidate that differs in every character of the name is no suggestion ("a" -> "mx").
        if (distance < best_distance && distance < name.size()) {
          best_distance = distance;
          best = candidate;
        }
      }
    }
    if (best.empty()) {
      return "unknown key";
    }
    return fmt::format("unknown key (did you mean \"{}\"?)", best);
  }

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> sections_;
};

// Reports every key in table that the schema does not know; skip names a key handled elsewhere.
void reportUnknown(const Table& table, const std::string& prefix, const KeyNames& names, std::string_view skip,
                   Sink& sink) {
  for (const auto& [name, value] : table) {
    const std::string full = prefix + name;
    if (full == skip || names.isKey(full)) {
      continue;
    }
    if (!names.isSection(full)) {
      sink.add(lineOf(value), full, names.unknown(full));
    } else if (!value.is_table()) {
      sink.add(lineOf(value), full, wrongType("a table", value));
    } else {
      reportUnknown(value.as_table(), full + ".", names, skip, sink);
    }
  }
}

// The binary form of a numeric address, for comparing "::1" with "0::1".
std::string addressKey(const std::string& address, uint16_t port) {
  unsigned char buffer[sizeof(struct in6_addr)] = {};
  if (inet_pton(AF_INET, address.c_str(), buffer) == 1) {
    return fmt::format("4:{}:{}", std::string_view(reinterpret_cast<char*>(buffer), 4), port);
  }
  if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) {
    return fmt::format("6:{}:{}", std::string_view(reinterpret_cast<char*>(buffer), sizeof buffer), port);
  }
  return fmt::format("?{}:{}", address, port);
}

std::string endpoint(const std::string& address, uint16_t port) {
  return address.find(':') == std::string::npos ? fmt::format("{}:{}", address, port)
                                                : fmt::format("[{}]:{}", address, port);
}

std::string formatSeconds(std::chrono::seconds value) {
  return values::formatDuration(static_cast<uint64_t>(value.count()) * schema::kSecond);
}

// The Config::settings key of a listener's key: "listener[inbound].port".
std::string listenerSetting(std::string_view listener, std::string_view key) {
  return fmt::format("{}[{}].{}", schema::kListenerSection, listener, key);
}

// Whether a reload applies a Config::settings key; unknown keys (from another version) need a restart.
bool appliedOnReload(std::string_view setting) {
  const std::string listener_prefix = std::string(schema::kListenerSection) + "[";
  if (setting.starts_with(listener_prefix)) {
    const size_t close = setting.find("].");
    const std::string name = close == std::string_view::npos
                                 ? std::string()
                                 : std::string(schema::kListenerSection) + "." + std::string(setting.substr(close + 2));
    const auto keys = schema::listenerKeys();
    return std::any_of(keys.begin(), keys.end(), [&name](const auto& key) { return key.name == name && key.live; });
  }
  const auto keys = schema::nodeKeys();
  return std::any_of(keys.begin(), keys.end(), [setting](const auto& key) { return key.name == setting && key.live; });
}

struct ListenerLines {
  int name = 0;
  int port = 0;
  int scan_before_accept = 0;
  int auth_plaintext = 0;
};

struct TenantLines {
  int tenant = 0;
  int delivery_tls = 0;
  int tls_ca_file = 0;
  int links_mode = 0;
  int tracking = 0;  // the first tracking.* key set to true, and its name
  std::string tracking_key;
  int events_url = 0;
  int recipients = 0;
  std::vector<int> domains;  // one per Tenant::domains entry
};

// Where the keys of one [[dkim.keys]] table are (the table's line for a key not set).
struct DkimKeyLines {
  int domain = 0;
  int selector = 0;
  int active = 0;  // 0 when active is not set
};

bool readFile(const std::string& path, std::string& text, std::string& error) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    error = fmt::format("cannot read file: {}", ec.message());
    return false;
  }
  if (size > kMaxFileSize) {
    error = fmt::format("file larger than {} bytes", kMaxFileSize);
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) {
    error = fmt::format("cannot read file: {}", std::strerror(errno));
    return false;
  }
  text = content.str();
  return true;
}

// A document that holds only [[name]] tables (what: "a rules file"): the tables, after every
// other top-level key is reported. nullopt when the document does not parse, when name is not an
// array, or when there are no tables (reported only if required); all reported to sink.
std::optional<Array> arrayOfTables(const std::string& text, Sink& sink, const std::string& name, std::string_view what,
                                   bool required) {
  const std::optional<Value> document = parseToml(text, sink);
  if (!document) {
    return std::nullopt;
  }
  for (const auto& [key, value] : document->as_table()) {
    if (key != name) {
      sink.add(lineOf(value), key, fmt::format("unknown key ({} holds only [[{}]] tables)", what, name));
    }
  }
  const auto it = document->as_table().find(name);
  if (it != document->as_table().end() && !it->second.is_array()) {
    sink.add(lineOf(it->second), name, wrongType(fmt::format("an array of tables ([[{}]])", name), it->second));
    return std::nullopt;
  }
  if (it == document->as_table().end() || it->second.as_array().empty()) {
    if (required) {
      sink.add(it == document->as_table().end() ? 0 : lineOf(it->second), name, fmt::format("no [[{}]] tables", name));
    }
    return std::nullopt;
  }
  return it->second.as_array();
}

// The string value of key `prefix.name` in a table of a stand-alone file, or nullptr after
// reporting an unknown name (allowed lists the known ones; expected says them) or a non-string.
const std::string* stringMember(const std::string& name, const Value& value, std::string_view prefix,
                                std::initializer_list<std::string_view> allowed, std::string_view expected, Sink& sink) {
  const std::string key = fmt::format("{}.{}", prefix, name);
  if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
    sink.add(lineOf(value), key, fmt::format("unknown key (expected {})", expected));
    return nullptr;
  }
  if (!value.is_string()) {
    sink.add(lineOf(value), key, wrongType("a string", value));
    return nullptr;
  }
  return &value.as_string().str;
}

// ---- Bounce rules (conf/bounce_rules.toml, bounce/classifier.h) ----------------------------

constexpr std::string_view kBounceRulesBuiltIn = "<built-in bounce rules>";

// The [[rule]] tables of a bounce rules document, compiled into out.rules; every problem goes
// to sink with its line and key.
void readBounceRules(const std::string& text, Sink& sink, bounce::Rules& out) {
  const std::optional<Array> tables = arrayOfTables(text, sink, "rule", "a rules file", true);
  if (!tables) {
    return;
  }
  if (tables->size() > bounce::kMaxRules) {
    sink.add(lineOf(tables->front()), "rule", fmt::format("more than {} rules", bounce::kMaxRules));
    return;
  }
  for (const Value& element : *tables) {
    if (!element.is_table()) {
      sink.add(lineOf(element), "rule", wrongType("a table ([[rule]])", element));
      continue;
    }
    const Table& table = element.as_table();
    bounce::Rule rule;
    rule.line = lineOf(element);
    bool ok = true;
    for (const auto& [name, value] : table) {
      const std::string key = "rule." + name;
      const std::string* member =
          stringMember(name, value, "rule", {"match", "class", "label"}, "match, class and label", sink);
      if (member == nullptr) {
        ok = false;
        continue;
      }
      const std::string& string = *member;
      std::string problem;
      if (name == "match") {
        rule.match = string;
        problem = bounce::compileMatch(rule);
      } else if (name == "class") {
        const std::optional<bounce::Class> cls = bounce::parseClass(string);
        rule.cls = cls.value_or(bounce::Class::Hard);
        problem = cls ? "" : fmt::format("{} is not a class: one of \"hard\" \"soft\" \"block\"", quote(string));
      } else {
        rule.label = string;
        problem = bounce::checkLabel(string);
      }
      if (!problem.empty()) {
        sink.add(lineOf(value), key, problem);
        ok = false;
      }
    }
    for (std::string_view required : {"match", "class", "label"}) {
      if (table.find(std::string(required)) == table.end()) {
        sink.add(rule.line, fmt::format("rule.{}", required), "missing");
        ok = false;
      }
    }
    if (ok) {
      out.rules.push_back(std::move(rule));
    }
  }
}

// ---- Destinations (mx.destinations_file, conf/destinations.toml) ---------------------------

// The [[destination]] tables of a destinations document into out.entries; every problem goes
// to sink with its line and key. A domain is listed once; ".example.com" names its subdomains.
void readDestinations(const std::string& text, Sink& sink, DestinationPolicies& out) {
  const std::optional<Array> tables = arrayOfTables(text, sink, "destination", "a destinations file", false);
  if (!tables) {
    return;
  }
  std::unordered_map<std::string, int> seen;  // domain -> line
  for (const Value& element : *tables) {
    if (!element.is_table()) {
      sink.add(lineOf(element), "destination", wrongType("a table ([[destination]])", element));
      continue;
    }
    DestinationPolicy entry;
    entry.line = lineOf(element);
    bool ok = true;
    bool has_domain = false;
    for (const auto& [name, value] : element.as_table()) {
      const std::string key = "destination." + name;
      has_domain = has_domain || name == "domain";
      const std::string* member = stringMember(name, value, "destination", {"domain", "tls", "tls_ca_file"},
                                               "domain, tls and tls_ca_file", sink);
      if (member == nullptr) {
        ok = false;
        continue;
      }
      const std::string& string = *member;
      std::string problem;
      if (name == "domain") {
        entry.domain = ascii::toLowerCopy(string);
        const std::string_view bare = std::string_view(entry.domain).substr(entry.domain.starts_with('.') ? 1 : 0);
        problem = values::checkDomain(bare);
        if (problem.empty()) {
          if (const auto [previous, inserted] = seen.emplace(entry.domain, lineOf(value)); !inserted) {
            problem = fmt::format("{} is already listed on line {}", quote(entry.domain), previous->second);
          }
        }
      } else if (name == "tls") {
        const auto& names = schema::kMxTlsNames;
        const auto found = std::find(names.begin(), names.end(), string);
        problem = found == names.end()
                      ? fmt::format("{} is not a level: one of \"none\" \"may\" \"encrypt\" \"verify\" \"dane\"",
                                    quote(string))
                      : "";
        entry.tls = found == names.end() ? ClientTls::May : schema::kMxTls[found - names.begin()];
      } else {
        entry.tls_ca_file = string;
        std::error_code ec;
        if (!string.empty() && !std::filesystem::is_regular_file(string, ec)) {
          problem = fmt::format("{} is not a readable file", quote(string));
        }
      }
      if (!problem.empty()) {
        sink.add(lineOf(value), key, problem);
        ok = false;
      }
    }
    if (!has_domain) {
      sink.add(entry.line, "destination.domain", "missing");
      ok = false;
    }
    if (ok) {
      out.entries.push_back(std::move(entry));
    }
  }
}

// ---- Traffic shaping (mx.shaping_file, conf/shaping.toml) ----------------------------------

constexpr std::string_view kShapingBuiltIn = "<built-in shaping rules>";
constexpr uint32_t kMaxShapingCount = 1000000;

// A limit key of [default], [[provider]] or [[backoff]] into limits; false if name is not one
// (nothing reported), true after reporting any problem with its value.
bool readShapingLimit(const std::string& name, const Value& value, const std::string& key, ShapingLimits& limits,
                      Sink& sink) {
  uint32_t* count = name == "connection_limit"                ? &limits.connection_limit
                    : name == "max_deliveries_per_connection" ? &limits.max_deliveries_per_connection
                                                              : nullptr;
  Rate* rate = name == "max_connection_rate" ? &limits.max_connection_rate
               : name == "max_message_rate"  ? &limits.max_message_rate
                                             : nullptr;
  if (count != nullptr) {
    if (!value.is_integer()) {
      sink.add(lineOf(value), key, wrongType("an integer", value));
    } else if (value.as_integer() < 1 || value.as_integer() > kMaxShapingCount) {
      sink.add(lineOf(value), key, fmt::format("{} is out of range 1 .. {}", value.as_integer(), kMaxShapingCount));
    } else {
      *count = static_cast<uint32_t>(value.as_integer());
    }
    return true;
  }
  if (rate != nullptr) {
    if (!value.is_string()) {
      sink.add(lineOf(value), key, wrongType("a string", value));
    } else if (const std::string problem = values::checkRate(value.as_string().str); !problem.empty()) {
      sink.add(lineOf(value), key, problem);
    } else {
      values::parseRate(value.as_string().str, rate->count, rate->period_s);
    }
    return true;
  }
  return false;
}

constexpr std::string_view kShapingLimitNames =
    "connection_limit, max_connection_rate, max_deliveries_per_connection, max_message_rate";

// A list of lower-case names (domains, or exchanger suffixes starting with '.') of key.
std::vector<std::string> readNameList(const Value& value, const std::string& key, bool suffixes, Sink& sink) {
  std::vector<std::string> names;
  if (!value.is_array()) {
    sink.add(lineOf(value), key, wrongType("an array of strings", value));
    return names;
  }
  for (const Value& element : value.as_array()) {
    if (!element.is_string()) {
      sink.add(lineOf(element), key, wrongType("a string", element));
      continue;
    }
    std::string name = ascii::toLowerCopy(element.as_string().str);
    const bool dotted = name.starts_with('.');
    std::string problem = suffixes && !dotted ? fmt::format("{} must start with '.'", quote(name))
                                              : values::checkDomain(std::string_view(name).substr(dotted ? 1 : 0));
    if (!problem.empty()) {
      sink.add(lineOf(element), key, problem);
      continue;
    }
    names.push_back(std::move(name));
  }
  return names;
}

void readShapingDefault(const Value& table, Sink& sink, ShapingLimits& out) {
  for (const auto& [name, value] : table.as_table()) {
    const std::string key = "default." + name;
    if (!readShapingLimit(name, value, key, out, sink)) {
      sink.add(lineOf(value), key, fmt::format("unknown key (expected {})", kShapingLimitNames));
    }
  }
}

void readShapingProvider(const Value& table, Sink& sink, std::unordered_map<std::string, int>& seen,
                         ShapingRules& out) {
  ShapingProvider provider;
  provider.line = lineOf(table);
  for (const auto& [name, value] : table.as_table()) {
    const std::string key = "provider." + name;
    if (readShapingLimit(name, value, key, provider.limits, sink)) {
      continue;
    }
    if (name == "name") {
      if (!value.is_string()) {
        sink.add(lineOf(value), key, wrongType("a string", value));
      } else if (const std::string problem = values::checkIdentifier(value.as_string().str); !problem.empty()) {
        sink.add(lineOf(value), key, problem);
      } else if (const auto [previous, inserted] = seen.emplace(value.as_string().str, lineOf(value)); !inserted) {
        sink.add(lineOf(value), key,
                 fmt::format("{} is already a provider on line {}", quote(value.as_string().str), previous->second));
      } else {
        provider.name = value.as_string().str;
      }
    } else if (name == "mx_suffixes" || name == "domains") {
      (name == "domains" ? provider.domains : provider.mx_suffixes) = readNameList(value, key, name != "domains", sink);
    } else {
      sink.add(lineOf(value), key,
               fmt::format("unknown key (expected name, mx_suffixes, domains, {})", kShapingLimitNames));
    }
  }
  if (table.as_table().count("name") == 0) {
    sink.add(provider.line, "provider.name", "missing");
  }
  if (provider.mx_suffixes.empty() && provider.domains.empty()) {
    sink.add(provider.line, "provider", "names no usable mx_suffixes or domains");
  }
  out.providers.push_back(std::move(provider));
}

void readBackoffRule(const Value& table, Sink& sink, ShapingRules& out) {
  BackoffRule rule;
  rule.line = lineOf(table);
  for (const auto& [name, value] : table.as_table()) {
    const std::string key = "backoff." + name;
    if (readShapingLimit(name, value, key, rule.limits, sink)) {
      continue;
    }
    if (name == "match" || name == "duration") {
      if (!value.is_string()) {
        sink.add(lineOf(value), key, wrongType("a string", value));
        continue;
      }
      const std::string& text = value.as_string().str;
      std::string problem;
      if (name == "match") {
        rule.match = text;
        problem = bounce::compileReplyPattern(text, rule.regex);
      } else if (values::parseDuration(text, rule.duration_us) != values::UnitStatus::Ok || rule.duration_us == 0) {
        problem = fmt::format("{} is not a duration above zero (units {})", quote(text), values::kDurationUnits);
      }
      if (!problem.empty()) {
        sink.add(lineOf(value), key, problem);
      }
    } else if (name == "suspend") {
      if (!value.is_boolean()) {
        sink.add(lineOf(value), key, wrongType("a boolean", value));
      } else {
        rule.suspend = value.as_boolean();
      }
    } else {
      sink.add(lineOf(value), key, fmt::format("unknown key (expected match, duration, suspend, {})", kShapingLimitNames));
    }
  }
  for (std::string_view required : {"match", "duration"}) {
    if (table.as_table().count(std::string(required)) == 0) {
      sink.add(rule.line, fmt::format("backoff.{}", required), "missing");
    }
  }
  if (!rule.suspend && rule.limits == ShapingLimits{}) {
    sink.add(rule.line, "backoff", "neither suspends nor sets a limit");
  }
  out.backoff.push_back(std::move(rule));
}

// A shaping document ([default], [[provider]], [[backoff]]) into out; every problem goes to
// sink with its line and key.
void readShaping(const std::string& text, Sink& sink, ShapingRules& out) {
  const std::optional<Value> document = parseToml(text, sink);
  if (!document) {
    return;
  }
  std::unordered_map<std::string, int> seen;  // provider name -> line
  for (const auto& [name, value] : document->as_table()) {
    const bool tables = value.is_array() && std::all_of(value.as_array().begin(), value.as_array().end(),
                                                        [](const Value& element) { return element.is_table(); });
    if (name == "default" && value.is_table()) {
      readShapingDefault(value, sink, out.defaults);
    } else if ((name == "provider" || name == "backoff") && tables) {
      for (const Value& element : value.as_array()) {
        if (name == "provider") {
          readShapingProvider(element, sink, seen, out);
        } else {
          readBackoffRule(element, sink, out);
        }
      }
    } else {
      sink.add(lineOf(value), name, "unknown key (a shaping file holds [default], [[provider]] and [[backoff]] tables)");
    }
  }
}

// Builds one Config from a node file and any number of policy files.
class Loader {
 public:
  Loader() : config_(std::make_shared<Config>()) {}

  void node(const std::string& name, const std::string& text) {
    config_->source_file = name;
    node_sink_.emplace(errors_, nextRank(), name);
    const std::optional<Value> document = parseToml(text, *node_sink_);
    if (!document) {
      return;
    }
    const Table& root = document->as_table();
    KeyNames names;
    names.add(schema::nodeKeys());
    names.add(schema::listenerKeys());
    reportUnknown(root, "", names, schema::kListenerSection, *node_sink_);
    for (const auto& key : schema::nodeKeys()) {
      const Outcome outcome = readKey(root, key.name, key, *config_, *node_sink_, 0);
      node_lines_[key.name] = outcome.line;
      config_->settings[std::string(key.name)] = outcome.canonical;
      if (key.name == "node.policies") {
        policies_known_ = outcome.ok;
      }
    }
    readListeners(root, names);
    node_ok_ = true;
  }

  bool policiesKnown() const { return policies_known_; }
  const std::string& policiesDir() const { return config_->node.policies_dir; }

  // The policy set could not be read (the directory is missing): skip checks that need it.
  void policiesUnavailable(const std::string& message) {
    node_sink_->add(node_lines_["node.policies"], "node.policies", message);
    policies_complete_ = false;
  }

  void policyUnreadable(const std::string& name, const std::string& message) {
    Sink(errors_, nextRank(), name).add(0, "", message);
    policies_complete_ = false;
  }

  void policy(const std::string& name, const std::string& text) {
    Sink sink(errors_, nextRank(), name);
    const std::optional<Value> document = parseToml(text, sink);
    if (!document) {
      policies_complete_ = false;
      return;
    }
    const Table& root = document->as_table();
    KeyNames names;
    names.add(schema::policyKeys());
    names.add(schema::dkimKeyKeys());
    reportUnknown(root, "", names, schema::kDkimKeysSection, sink);

    Tenant tenant;
    tenant.source_file = name;
    TenantLines lines;
    std::optional<std::string> target;
    for (const auto& key : schema::policyKeys()) {
      int parent_line = 0;
      const Value* value = findPath(root, key.name, parent_line);
      if (!key.only_for.empty()) {
        if (target && !targetListed(key.only_for, *target)) {
          if (value != nullptr) {
            sink.add(lineOf(*value), key.name, fmt::format("key only valid for target {}", key.only_for));
          }
          continue;
        }
        if (!target && value == nullptr) {
          continue;
        }
      }
      const Outcome outcome = readKey(root, key.name, key, tenant, sink, 0);
      if (key.name == schema::kDeliveryTarget && outcome.ok) {
        target = outcome.text;
      }
      if (key.name == "tenant") {
        lines.tenant = outcome.line;
      }
      if (key.name == "delivery.tls") {
        lines.delivery_tls = outcome.line;
      }
      if (key.name == "delivery.tls_ca_file") {
        lines.tls_ca_file = outcome.line;
      }
      if (key.name == "links.mode") {
        lines.links_mode = outcome.line;
      }
      if (key.name.starts_with("tracking.") && outcome.present && outcome.canonical == "true" &&
          lines.tracking == 0) {
        lines.tracking = outcome.line;
        lines.tracking_key = key.name;
      }
      if (key.name == "events.url") {
        lines.events_url = outcome.line;
      }
      if (key.name == "delivery.recipients") {
        lines.recipients = outcome.line;
      }
      if (key.name == "delivery.recipients_file" && outcome.ok && !tenant.delivery.recipients_file.empty()) {
        readRecipientsFile(tenant.delivery, sink, outcome.line);
      }
      if (key.name == "domains" && outcome.ok && value != nullptr) {
        for (const Value& element : value->as_array()) {
          lines.domains.push_back(lineOf(element));
        }
      }
    }
    readDkimKeys(root, names, tenant, sink);
    tenants_.push_back({std::move(tenant), std::move(lines), sink});
  }

  // The [[dkim.keys]] tables of a policy: each key read and its file loaded, then the rules
  // across keys (the domain is the tenant's, at most two keys and one active key per domain and
  // algorithm, one selector per domain).
  static void readDkimKeys(const Table& root, const KeyNames& names, Tenant& tenant, Sink& sink) {
    int parent_line = 0;
    const Value* array = findPath(root, schema::kDkimKeysSection, parent_line);
    if (array == nullptr) {
      return;
    }
    const std::string expected = fmt::format("an array of tables ([[{}]])", schema::kDkimKeysSection);
    if (!array->is_array()) {
      sink.add(lineOf(*array), schema::kDkimKeysSection, wrongType(expected, *array));
      return;
    }
    const std::string prefix = std::string(schema::kDkimKeysSection) + ".";
    std::vector<DkimKeyLines> lines;
    for (const Value& element : array->as_array()) {
      if (!element.is_table()) {
        sink.add(lineOf(element), schema::kDkimKeysSection, wrongType(expected, element));
        continue;
      }
      reportUnknown(element.as_table(), prefix, names, "", sink);
      DkimKey key;
      DkimKeyLines at;
      bool ok = true;
      int key_file_line = lineOf(element);
      for (const auto& schema_key : schema::dkimKeyKeys()) {
        const Outcome outcome =
            readKey(element.as_table(), schema_key.name.substr(prefix.size()), schema_key, key, sink, lineOf(element));
        ok = ok && outcome.ok;
        const int line = outcome.line != 0 ? outcome.line : lineOf(element);
        if (schema_key.name == "dkim.keys.domain") {
          at.domain = line;
        } else if (schema_key.name == "dkim.keys.selector") {
          at.selector = line;
        } else if (schema_key.name == "dkim.keys.key_file") {
          key_file_line = line;
        } else if (schema_key.name == "dkim.keys.active") {
          at.active = outcome.line;
        }
      }
      if (!ok) {
        continue;
      }
      if (std::find(tenant.domains.begin(), tenant.domains.end(), key.domain) == tenant.domains.end()) {
        sink.add(at.domain, "dkim.keys.domain", fmt::format("{} is not one of the tenant's domains", quote(key.domain)));
        continue;
      }
      if (const std::string problem = loadDkimKeyFile(key); !problem.empty()) {
        sink.add(key_file_line, "dkim.keys.key_file", problem);
        continue;
      }
      tenant.dkim.keys.push_back(std::move(key));
      lines.push_back(at);
    }
    checkDkimKeys(tenant.dkim.keys, lines, sink);
  }

  // Selectors are unique per domain; per domain and algorithm there are at most two keys, of
  // which one signs: the one that says active = true, or the one that does not say active =
  // false, or (neither says) the first.
  static void checkDkimKeys(std::vector<DkimKey>& keys, const std::vector<DkimKeyLines>& lines, Sink& sink) {
    for (size_t i = 0; i < keys.size(); ++i) {
      std::vector<size_t> pair;  // earlier keys of the same domain and algorithm
      for (size_t j = 0; j < i; ++j) {
        if (keys[j].domain != keys[i].domain) {
          continue;
        }
        if (ascii::equalsIgnoreCase(keys[j].selector, keys[i].selector)) {
          sink.add(lines[i].selector, "dkim.keys.selector",
                   fmt::format("selector {} is already used for {} on line {}", quote(keys[i].selector),
                               quote(keys[i].domain), lines[j].selector));
        }
        if (keys[j].algorithm == keys[i].algorithm) {
          pair.push_back(j);
        }
      }
      if (pair.size() >= 2) {
        sink.add(lines[i].domain, "dkim.keys.domain",
                 fmt::format("a third key of one algorithm for {}: at most two (the signing key and its "
                             "successor in a rotation)",
                             quote(keys[i].domain)));
        continue;
      }
      if (pair.empty()) {
        continue;
      }
      DkimKey& first = keys[pair.front()];
      const bool first_set = lines[pair.front()].active != 0;
      const bool second_set = lines[i].active != 0;
      if (!second_set) {
        keys[i].active = !first.active;
      } else if (!first_set) {
        first.active = !keys[i].active;
      } else if (first.active && keys[i].active) {
        sink.add(lines[i].active, "dkim.keys.active",
                 fmt::format("two active keys of one algorithm for {} (also line {}): set active = false on one",
                             quote(keys[i].domain), lines[pair.front()].active));
      }
    }
  }

  // Adds the addresses of delivery.recipients_file to the tenant's valid recipients; errors
  // name the file and line.
  void readRecipientsFile(DeliveryTarget& delivery, Sink& policy_sink, int key_line) {
    std::string text;
    std::string error;
    if (!readFile(delivery.recipients_file, text, error)) {
      policy_sink.add(key_line, "delivery.recipients_file", fmt::format("{}: {}", quote(delivery.recipients_file), error));
      return;
    }
    Sink sink(errors_, nextRank(), delivery.recipients_file);
    auto listed = std::make_shared<std::unordered_set<std::string>>();
    if (delivery.valid_recipients) {
      *listed = *delivery.valid_recipients;
    }
    int line_number = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
      ++line_number;
      const size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      line = ascii::trim(line.substr(0, line.find('#')));
      if (line.empty()) {
        continue;
      }
      if (const std::string problem = values::checkMailbox(line); !problem.empty()) {
        sink.add(line_number, "delivery.recipients_file", fmt::format("{}: {}", quote(line), problem));
        continue;
      }
      listed->insert(ascii::toLowerCopy(line));
    }
    delivery.valid_recipients = std::move(listed);
  }

  // The rules of bounces.rules_file, or the built-in ones; errors name the rules file.
  void loadBounceRules(Config& c, Sink& node_sink) {
    auto rules = std::make_shared<bounce::Rules>();
    std::string text(bounce::defaultRulesText());
    rules->source = kBounceRulesBuiltIn;
    if (!c.bounce_rules_file.empty()) {
      std::string error;
      if (!readFile(c.bounce_rules_file, text, error)) {
        node_sink.add(node_lines_["bounces.rules_file"], "bounces.rules_file",
                      fmt::format("{}: {}", quote(c.bounce_rules_file), error));
        return;
      }
      rules->source = c.bounce_rules_file;
    }
    Sink sink(errors_, nextRank(), rules->source);
    readBounceRules(text, sink, *rules);
    c.bounce_rules = std::move(rules);
  }

  // The entries of mx.destinations_file; errors name that file.
  void loadDestinations(Config& c, Sink& node_sink) {
    if (c.destinations_file.empty()) {
      return;
    }
    std::string text;
    std::string error;
    if (!readFile(c.destinations_file, text, error)) {
      node_sink.add(node_lines_["mx.destinations_file"], "mx.destinations_file",
                    fmt::format("{}: {}", quote(c.destinations_file), error));
      return;
    }
    c.destinations.source = c.destinations_file;
    Sink sink(errors_, nextRank(), c.destinations_file);
    readDestinations(text, sink, c.destinations);
  }

  // The rules of mx.shaping_file, or the built-in ones; errors name the shaping file.
  void loadShaping(Config& c, Sink& node_sink) {
    auto rules = std::make_shared<ShapingRules>();
    std::string text(defaultShapingText());
    rules->source = kShapingBuiltIn;
    if (!c.shaping_file.empty()) {
      std::string error;
      if (!readFile(c.shaping_file, text, error)) {
        node_sink.add(node_lines_["mx.shaping_file"], "mx.shaping_file", fmt::format("{}: {}", quote(c.shaping_file), error));
        return;
      }
      rules->source = c.shaping_file;
    }
    Sink sink(errors_, nextRank(), rules->source);
    readShaping(text, sink, *rules);
    c.shaping = std::move(rules);
  }

  LoadResult finish() {
    if (node_ok_) {
      checkNode();
    }
    checkTenants();
    if (node_ok_ && policies_complete_) {
      checkPostmaster();
    }
    LoadResult result;
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first, a.second.line, a.second.key) < std::tie(b.first, b.second.line, b.second.key);
    });
    for (auto& [rank, error] : errors_) {
      result.errors.push_back(std::move(error));
    }
    if (result.errors.empty()) {
      result.config = config_;
    }
    return result;
  }

  // Called when an exception escaped: the report must still be complete and never throw.
  static LoadResult failure(const std::string& file, const std::string& message) {
    LoadResult result;
    result.errors.push_back(ConfigError{file, 0, "", message});
    return result;
  }

 private:
  struct PolicyRecord {
    Tenant tenant;
    TenantLines lines;
    Sink sink;
  };

  size_t nextRank() { return rank_++; }

  void readListeners(const Table& root, const KeyNames& names) {
    const auto it = root.find(std::string(schema::kListenerSection));
    if (it == root.end()) {
      const auto defaults = schema::defaultListeners();
      config_->listeners.assign(defaults.begin(), defaults.end());
      config_->settings[std::string(schema::kListenerSection)] = "the built-in inbound and submission listeners";
      listener_lines_.resize(defaults.size());
      return;
    }
    const std::string expected = fmt::format("an array of tables ([[{}]])", schema::kListenerSection);
    if (!it->second.is_array()) {
      node_sink_->add(lineOf(it->second), schema::kListenerSection, wrongType(expected, it->second));
      return;
    }
    const std::string prefix = std::string(schema::kListenerSection) + ".";
    for (const Value& element : it->second.as_array()) {
      if (!element.is_table()) {
        node_sink_->add(lineOf(element), schema::kListenerSection, wrongType(expected, element));
        continue;
      }
      reportUnknown(element.as_table(), prefix, names, "", *node_sink_);
      Listener listener;
      ListenerLines lines;
      std::vector<std::pair<std::string_view, std::string>> values;
      for (const auto& key : schema::listenerKeys()) {
        const Outcome outcome = readKey(element.as_table(), key.name.substr(prefix.size()), key, listener,
                                        *node_sink_, lineOf(element));
        values.emplace_back(key.name.substr(prefix.size()), outcome.canonical);
        if (key.name == "listener.name") {
          lines.name = outcome.line;
        } else if (key.name == "listener.port") {
          lines.port = outcome.line;
        } else if (key.name == "listener.scan_before_accept") {
          lines.scan_before_accept = outcome.line;
        } else if (key.name == "listener.auth_plaintext") {
          lines.auth_plaintext = outcome.line;
        }
      }
      for (const auto& [name, value] : values) {
        config_->settings[listenerSetting(listener.name, name)] = value;
      }
      config_->listeners.push_back(std::move(listener));
      listener_lines_.push_back(lines);
    }
  }

  void checkNode() {
    Sink& sink = *node_sink_;
    Config& c = *config_;
    if (c.node.hostname.empty()) {
      char host[HOST_NAME_MAX + 1] = {};
      if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
        c.node.hostname = host;
      } else {
        sink.add(0, "node.hostname", "cannot determine the machine's host name; set node.hostname");
      }
    }
    if (c.node.workers == 0) {
      // One core is left to the spool writer, the control loop and the lanes.
      c.node.workers = std::max(1u, std::thread::hardware_concurrency() - 1);
    }
    loadBounceRules(c, sink);
    loadDestinations(c, sink);
    loadShaping(c, sink);
    if (c.bounces.tls == ClientTls::Verify && values::isIpLiteral(c.bounces.host)) {
      sink.add(node_lines_["bounces.tls"], "bounces.tls",
               "\"verify\" checks the relay's certificate against its host name, and bounces.host is an IP address");
    }
    if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
      const bool has_cert = !c.tls.cert_file.empty();
      const std::string_view key = has_cert ? "tls.cert" : "tls.key";
      sink.add(node_lines_[key], key,
               fmt::format("tls.cert and tls.key must be set together ({} is missing)",
                           has_cert ? "tls.key" : "tls.cert"));
    }
    if (c.queue.retry_max < c.queue.retry_initial) {
      const int max_line = node_lines_["queue.retry_max"];
      if (max_line != 0 || node_lines_["queue.retry_initial"] == 0) {
        sink.add(max_line, "queue.retry_max",
                 fmt::format("must not be less than queue.retry_initial ({})", formatSeconds(c.queue.retry_initial)));
      } else {
        sink.add(node_lines_["queue.retry_initial"], "queue.retry_initial",
                 fmt::format("must not be more than queue.retry_max ({})", formatSeconds(c.queue.retry_max)));
      }
    }
    if (!c.scan.signatures.empty()) {
      // libclamav reports a whole message larger than these limits as over a limit, never as
      // scanned: with smaller limits every large message would be "not known to be clean".
      for (const auto& [key, limit] : {std::pair<std::string_view, uint64_t>{"scan.max_file_size", c.scan.max_file_size},
                                       std::pair<std::string_view, uint64_t>{"scan.max_scan_size", c.scan.max_scan_size}}) {
        if (limit < c.smtp.max_message_size) {
          sink.add(node_lines_[key], key,
                   fmt::format("must be at least smtp.max_message_size ({}): a message larger than the scan "
                               "limits can never be found clean",
                               schema::formatBound(Type::Size, c.smtp.max_message_size)));
        }
      }
    }
    checkListeners();
  }

  void checkListeners() {
    Sink& sink = *node_sink_;
    const Config& c = *config_;
    std::unordered_map<std::string, size_t> names;
    std::unordered_map<std::string, size_t> endpoints;
    for (size_t i = 0; i < c.listeners.size(); ++i) {
      const Listener& listener = c.listeners[i];
      if (!listener.name.empty()) {
        const auto [it, inserted] = names.emplace(listener.name, i);
        if (!inserted) {
          sink.add(listener_lines_[i].name, "listener.name",
                   fmt::format("duplicate listener name {} (first on line {})", quote(listener.name),
                               listener_lines_[it->second].name));
        }
      }
      if (listener.scan_before_accept && c.scan.signatures.empty()) {
        sink.add(listener_lines_[i].scan_before_accept, "listener.scan_before_accept",
                 "needs virus scanning: scan.signatures is not set");
      }
      if (listener.auth_plaintext && listener.role != ListenerRole::Submission) {
        sink.add(listener_lines_[i].auth_plaintext, "listener.auth_plaintext", "only a submission listener offers AUTH");
      } else if (listener.auth_plaintext && !isLoopbackAddress(listener.address)) {
        sink.add(listener_lines_[i].auth_plaintext, "listener.auth_plaintext",
                 fmt::format("AUTH without TLS is allowed only on a loopback address, not {}", quote(listener.address)));
      }
      if (listener.port != 0) {
        const auto [it, inserted] = endpoints.emplace(addressKey(listener.address, listener.port), i);
        if (!inserted) {
          sink.add(listener_lines_[i].port, "listener.port",
                   fmt::format("{} is already used by listener {}", endpoint(listener.address, listener.port),
                               quote(c.listeners[it->second].name)));
        }
      }
    }
    // An HTTP listener's port must not be a listener's too.
    const auto check_http_port = [&](std::string_view key, const std::string& address, uint16_t port) {
      if (port == 0) {
        return;
      }
      const auto it = endpoints.find(addressKey(address, port));
      if (it != endpoints.end()) {
        sink.add(node_lines_[key], key,
                 fmt::format("{} is already used by listener {}", endpoint(address, port),
                             quote(c.listeners[it->second].name)));
      }
    };
    if (!c.api.address.empty()) {
      if (!c.api.allow_remote && !isLoopbackAddress(c.api.address)) {
        sink.add(node_lines_["api.address"], "api.address",
                 fmt::format("{} is not a loopback address: the send API faces the network only with "
                             "api.allow_remote = true",
                             quote(c.api.address)));
      }
      check_http_port("api.port", c.api.address, c.api.port);
    }
    check_http_port("admin.port", c.admin.address, c.admin.port);
  }

  void checkTenants() {
    std::unordered_map<std::string, size_t> ids;
    for (size_t t = 0; t < tenants_.size(); ++t) {
      PolicyRecord& record = tenants_[t];
      const Tenant& tenant = record.tenant;
      if (!tenant.id.empty()) {
        const auto [it, inserted] = ids.emplace(tenant.id, t);
        if (!inserted) {
          record.sink.add(record.lines.tenant, "tenant",
                          fmt::format("duplicate tenant id {} (also in {})", quote(tenant.id),
                                      tenants_[it->second].sink.file()));
        }
      }
      for (size_t d = 0; d < tenant.domains.size(); ++d) {
        const std::string& domain = tenant.domains[d];
        const auto [it, inserted] = config_->domain_index.emplace(domain, t);
        if (inserted) {
          continue;
        }
        const PolicyRecord& owner = tenants_[it->second];
        if (it->second == t) {
          record.sink.add(record.lines.domains[d], "domains", fmt::format("domain {} is listed twice", quote(domain)));
        } else {
          record.sink.add(record.lines.domains[d], "domains",
                          fmt::format("domain {} is already owned by tenant {} in {}", quote(domain),
                                      quote(owner.tenant.id), owner.sink.file()));
        }
      }
      if (tenant.delivery.kind == DeliveryKind::Smtp) {
        checkClientTls(record);
      }
      if (tenant.links.mode != LinkMode::Off && node_ok_ && config_->links.host.empty()) {
        record.sink.add(record.lines.links_mode, "links.mode",
                        "link rewriting needs links.host in the node configuration");
      }
      if (tenant.tracking.any() && node_ok_ && config_->links.host.empty()) {
        record.sink.add(record.lines.tracking, record.lines.tracking_key,
                        "outbound tracking needs links.host in the node configuration");
      }
      if (!tenant.events.url.empty() && tenant.events.secret_keys.empty()) {
        record.sink.add(record.lines.events_url, "events.url", "events need events.secrets to sign them");
      }
      const DeliveryTarget& delivery = tenant.delivery;
      if (delivery.recipients == RecipientCheck::List && (!delivery.valid_recipients || delivery.valid_recipients->empty()) &&
          delivery.recipients_file.empty()) {
        record.sink.add(record.lines.recipients, "delivery.recipients",
                        "\"list\" needs addresses in delivery.recipients_list or delivery.recipients_file");
      }
      if (delivery.recipients == RecipientCheck::Verify && delivery.kind != DeliveryKind::Smtp) {
        record.sink.add(record.lines.recipients, "delivery.recipients",
                        "\"verify\" probes the next hop: it needs delivery.target = \"smtp\"");
      }
      config_->id_index.emplace(tenant.id, t);
      config_->tenants.push_back(tenant);
    }
  }

  // The verify level needs a name to check, and a configured CA file must be readable.
  static void checkClientTls(PolicyRecord& record) {
    const DeliveryTarget& delivery = record.tenant.delivery;
    if (delivery.tls == ClientTls::Verify && delivery.tls_verify_name.empty() && values::isIpLiteral(delivery.host)) {
      record.sink.add(record.lines.delivery_tls, "delivery.tls",
                      fmt::format("\"verify\" checks the certificate against a host name, but delivery.host {} is "
                                  "an IP address: set delivery.tls_verify_name",
                                  quote(delivery.host)));
    }
    if (!delivery.tls_ca_file.empty()) {
      std::ifstream in(delivery.tls_ca_file, std::ios::binary);
      std::error_code ec;
      if (!in.good() || std::filesystem::is_directory(delivery.tls_ca_file, ec)) {
        record.sink.add(record.lines.tls_ca_file, "delivery.tls_ca_file",
                        fmt::format("cannot read {}: {}", quote(delivery.tls_ca_file),
                                    in.good() ? "is a directory" : std::strerror(errno)));
      }
    }
  }

  void checkPostmaster() {
    const std::string& postmaster = config_->node.postmaster;
    if (postmaster.empty() || !values::checkMailbox(postmaster).empty()) {
      return;
    }
    if (config_->tenantForDomain(postmaster.substr(postmaster.rfind('@') + 1)) == nullptr) {
      node_sink_->add(node_lines_["node.postmaster"], "node.postmaster",
                      fmt::format("{} is not an address in a tenant domain (no policy lists its domain)",
                                  quote(postmaster)));
    }
  }

  std::shared_ptr<Config> config_;
  std::vector<std::pair<size_t, ConfigError>> errors_;
  size_t rank_ = 0;
  std::optional<Sink> node_sink_;
  std::unordered_map<std::string_view, int> node_lines_;
  std::vector<ListenerLines> listener_lines_;
  std::vector<PolicyRecord> tenants_;
  bool node_ok_ = false;
  bool policies_known_ = false;
  bool policies_complete_ = true;
};

// The *.toml files directly inside dir, sorted by name (hidden files are skipped).
std::vector<std::filesystem::path> policyFiles(const std::filesystem::path& dir, std::error_code& ec) {
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name.ends_with(".toml") && !name.starts_with(".") && it->is_regular_file(type_ec)) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string ConfigError::str() const {
  std::string out = file;
  if (line > 0) {
    out += fmt::format(":{}", line);
  }
  out += ": ";
  if (!key.empty()) {
    out += key + ": ";
  }
  return out + message;
}

std::vector<SettingChange> changedSettings(const std::map<std::string, std::string>& running,
                                           const std::map<std::string, std::string>& next) {
  std::vector<SettingChange> changes;
  auto add = [&changes](const std::string& key, const std::string* before, const std::string* after) {
    SettingChange change;
    change.key = key;
    if (before != nullptr) {
      change.running = *before;
    }
    if (after != nullptr) {
      change.next = *after;
    }
    change.needs_restart = !appliedOnReload(key);
    changes.push_back(std::move(change));
  };
  auto a = running.begin();
  auto b = next.begin();
  while (a != running.end() || b != next.end()) {
    if (b == next.end() || (a != running.end() && a->first < b->first)) {
      add(a->first, &a->second, nullptr);
      ++a;
    } else if (a == running.end() || b->first < a->first) {
      add(b->first, nullptr, &b->second);
      ++b;
    } else {
      if (a->second != b->second) {
        add(a->first, &a->second, &b->second);
      }
      ++a;
      ++b;
    }
  }
  return changes;
}

bool DeliveryTarget::listsRecipient(std::string_view address) const {
  if (!valid_recipients) {
    return false;
  }
  std::string lowered = ascii::toLowerCopy(address);
  if (valid_recipients->count(lowered) != 0) {
    return true;
  }
  const size_t at = lowered.rfind('@');
  const size_t plus = lowered.find('+');
  if (at == std::string::npos || plus == std::string::npos || plus > at) {
    return false;
  }
  lowered.erase(plus, at - plus);
  return valid_recipients->count(lowered) != 0;
}

std::string checkDkimKeyName(std::string_view domain, std::string_view selector) {
  if (const std::string problem = values::checkDomain(domain); !problem.empty()) {
    return "domain: " + problem;
  }
  if (const std::string problem = values::checkDkimSelector(selector); !problem.empty()) {
    return "selector: " + problem;
  }
  return "";
}

std::vector<DkimKey> DkimPolicy::signingKeys(std::string_view domain) const {
  std::vector<DkimKey> chosen;
  for (const DkimAlgorithm algorithm : {DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256}) {
    for (const DkimKey& key : keys) {
      if (key.active && key.algorithm == algorithm && ascii::equalsIgnoreCase(key.domain, domain)) {
        chosen.push_back(key);
        break;
      }
    }
  }
  return chosen;
}

const Tenant* Config::tenantForDomain(std::string_view domain) const {
  const auto it = domain_index.find(ascii::toLowerCopy(domain));
  return it == domain_index.end() ? nullptr : &tenants[it->second];
}

namespace {

// Whether lower-case `name` is a subdomain named by `entry` written ".example.com" (never
// example.com itself); an entry without the leading dot names no subdomain.
bool underSuffix(std::string_view name, std::string_view entry) {
  return entry.starts_with('.') && name.size() > entry.size() && name.ends_with(entry);
}

}  // namespace

const DestinationPolicy* DestinationPolicies::find(std::string_view domain) const {
  const std::string name = ascii::toLowerCopy(domain);
  const DestinationPolicy* best = nullptr;
  for (const DestinationPolicy& entry : entries) {
    if (entry.domain == name) {
      return &entry;
    }
    if (underSuffix(name, entry.domain) && (best == nullptr || entry.domain.size() > best->domain.size())) {
      best = &entry;
    }
  }
  return best;
}

ShapingLimits ShapingLimits::over(const ShapingLimits& fallback) const {
  ShapingLimits merged = *this;
  merged.connection_limit = connection_limit != 0 ? connection_limit : fallback.connection_limit;
  merged.max_connection_rate = max_connection_rate.count != 0 ? max_connection_rate : fallback.max_connection_rate;
  merged.max_deliveries_per_connection =
      max_deliveries_per_connection != 0 ? max_deliveries_per_connection : fallback.max_deliveries_per_connection;
  merged.max_message_rate = max_message_rate.count != 0 ? max_message_rate : fallback.max_message_rate;
  return merged;
}

namespace {

uint32_t smallerSet(uint32_t a, uint32_t b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

// The slower of two rates (count per period compared as count_a * period_b against count_b * period_a).
Rate slowerSet(const Rate& a, const Rate& b) {
  if (a.count == 0 || b.count == 0) {
    return a.count == 0 ? b : a;
  }
  return a.count * b.period_s <= b.count * a.period_s ? a : b;
}

bool nameInSuffixList(std::string_view name, const std::vector<std::string>& list, bool exact_allowed) {
  const std::string lower = ascii::toLowerCopy(name);
  return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
    return (exact_allowed && entry == lower) || underSuffix(lower, entry);
  });
}

}  // namespace

ShapingLimits ShapingLimits::strictest(const ShapingLimits& other) const {
  ShapingLimits merged;
  merged.connection_limit = smallerSet(connection_limit, other.connection_limit);
  merged.max_connection_rate = slowerSet(max_connection_rate, other.max_connection_rate);
  merged.max_deliveries_per_connection = smallerSet(max_deliveries_per_connection, other.max_deliveries_per_connection);
  merged.max_message_rate = slowerSet(max_message_rate, other.max_message_rate);
  return merged;
}

bool ShapingProvider::matchesDomain(std::string_view domain) const { return nameInSuffixList(domain, domains, true); }

bool ShapingProvider::matchesExchanger(std::string_view host) const {
  std::string_view name = host;
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  return nameInSuffixList(name, mx_suffixes, false);
}

const ShapingProvider* ShapingRules::providerFor(std::string_view domain,
                                                 const std::vector<std::string>& exchangers) const {
  for (const ShapingProvider& provider : providers) {
    if (provider.matchesDomain(domain) ||
        std::any_of(exchangers.begin(), exchangers.end(),
                    [&](const std::string& host) { return provider.matchesExchanger(host); })) {
      return &provider;
    }
  }
  return nullptr;
}

const Tenant* Config::tenantById(std::string_view id) const {
  const auto it = id_index.find(std::string(id));
  return it == id_index.end() ? nullptr : &tenants[it->second];
}

LoadResult load(const std::string& node_file) {
  try {
    Loader loader;
    std::string text;
    std::string error;
    if (!readFile(node_file, text, error)) {
      return Loader::failure(node_file, error);
    }
    loader.node(node_file, text);
    if (loader.policiesKnown()) {
      const std::filesystem::path dir(loader.policiesDir());
      std::error_code ec;
      const bool exists = std::filesystem::exists(dir, ec);
      if (!exists || !std::filesystem::is_directory(dir, ec)) {
        loader.policiesUnavailable(fmt::format(
            "policies directory {} {} (relative paths are resolved against the working directory {})",
            quote(dir.string()), exists ? "is not a directory" : "does not exist",
            quote(std::filesystem::current_path(ec).string())));
      } else {
        const auto files = policyFiles(dir, ec);
        if (ec) {
          loader.policiesUnavailable(fmt::format("cannot list policies directory {}: {}", quote(dir.string()),
                                                 ec.message()));
        }
        for (const auto& file : files) {
          if (readFile(file.string(), text, error)) {
            loader.policy(file.string(), text);
          } else {
            loader.policyUnreadable(file.string(), error);
          }
        }
      }
    }
    return loader.finish();
  } catch (const std::exception& e) {
    return Loader::failure(node_file, fmt::format("cannot load configuration: {}", printable(e.what(), 200)));
  }
}

LoadResult loadFromText(const std::string& node_name, const std::string& node_text,
                        const std::vector<PolicySource>& policies) {
  try {
    Loader loader;
    loader.node(node_name, node_text);
    for (const PolicySource& policy : policies) {
      loader.policy(policy.name, policy.text);
    }
    return loader.finish();
  } catch (const std::exception& e) {
    return Loader::failure(node_name, fmt::format("cannot load configuration: {}", printable(e.what(), 200)));
  }
}

namespace {

// Reads one stand-alone file with read(text, sink) and returns its errors in order; what
// names the file's kind in the error of an unexpected exception.
template <typename Read>
std::vector<ConfigError> parseStandalone(const std::string& file, std::string_view what, Read read) {
  std::vector<std::pair<size_t, ConfigError>> found;
  try {
    Sink sink(found, 0, file);
    read(sink);
  } catch (const std::exception& e) {
    found.push_back({0, ConfigError{file, 0, "", fmt::format("cannot load {}: {}", what, printable(e.what(), 200))}});
  }
  std::vector<ConfigError> errors;
  for (auto& [rank, error] : found) {
    errors.push_back(std::move(error));
  }
  return errors;
}

}  // namespace

std::vector<ConfigError> parseBounceRules(const std::string& file, const std::string& text, bounce::Rules& out) {
  return parseStandalone(file, "bounce rules", [&](Sink& sink) {
    out.source = file;
    readBounceRules(text, sink, out);
  });
}

std::vector<ConfigError> parseDestinations(const std::string& file, const std::string& text,
                                           DestinationPolicies& out) {
  return parseStandalone(file, "destinations", [&](Sink& sink) {
    out.source = file;
    readDestinations(text, sink, out);
  });
}

std::vector<ConfigError> parseShaping(const std::string& file, const std::string& text, ShapingRules& out) {
  return parseStandalone(file, "shaping rules", [&](Sink& sink) {
    out.source = file;
    readShaping(text, sink, out);
  });
}

namespace schema {
namespace {

void collectKeys(const Table& table, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [name, value] : table) {
    const std::string full = prefix + name;
    if (value.is_table()) {
      collectKeys(value.as_table(), full + ".", out);
    } else if (value.is_array() && !value.as_array().empty() &&
               std::all_of(value.as_array().begin(), value.as_array().end(),
                           [](const Value& element) { return element.is_table(); })) {
      for (const Value& element : value.as_array()) {
        collectKeys(element.as_table(), full + ".", out);
      }
    } else {
      out.push_back(full);
    }
  }
}

}  // namespace

bool keysSetIn(const std::string& text, std::vector<std::string>& out, std::string& error) {
  std::vector<std::pair<size_t, ConfigError>> errors;
  Sink sink(errors, 0, "text");
  const std::optional<Value> document = parseToml(text, sink);
  if (!document) {
    error = errors.front().second.str();
    return false;
  }
  out.clear();
  collectKeys(document->as_table(), "", out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

}  // namespace schema
}  // namespace mxgate::config
