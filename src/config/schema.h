// The configuration schema, declared once as data: for every key of the node file
// (conf/mxgate.toml), of a [[listener]] table, of a tenant policy file and of its [[dkim.keys]]
// tables, its dotted name,
// type, default, bounds, one-line help and where the parsed value is stored.
// config.cpp walks the TOML documents against these tables; the unit tests check that
// conf/mxgate.toml documents exactly these keys. Immutable data; safe on any thread.
// Internal to src/config (and its tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"

namespace mxgate::config::schema {

enum class Type {
  Bool,
  Integer,      // TOML integer within [min, max]
  String,       // length within [min, max] bytes, no control characters
  Enum,         // a string out of choices
  Duration,     // "<n><unit>", unit us|ms|s|m|h|d; bounds in microseconds
  Size,         // integer bytes or "<n><unit>", unit B|KiB|MiB|GiB|TiB|KB|MB|GB|TB; bounds in bytes
  StringArray,  // count within [min, max]
};

// A value after type checking and unit conversion.
struct Parsed {
  bool flag = false;
  uint64_t number = 0;  // Integer; Size in bytes; Duration in units of Key::resolution
  size_t choice = 0;    // Enum: index into Key::choices
  std::string text;     // String, Enum
  std::vector<std::string> list;
};

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
inline constexpr size_t kMaxStringLength = 4096;
// Deeper nesting of arrays, inline tables or dotted keys is refused before TOML parsing:
// the TOML parser recurses once per level and would overflow the stack.
inline constexpr int kMaxNesting = 64;

inline constexpr uint64_t kMicrosecond = 1;
inline constexpr uint64_t kMillisecond = 1000;
inline constexpr uint64_t kSecond = 1000000;

// How error messages show an offending value.
enum class Echo {
  Value,  // quoted (control bytes escaped, cut at 100 bytes)
  Url,    // quoted after redactUrl(): webhook URLs carry tokens in their query
  Never,  // a secret: the message says what is wrong without repeating it
};

template <class Target>
struct Key {
  std::string_view name;           // "smtp.max_recipients", "listener.port", "delivery.host"
  Type type;
  std::string_view default_value = {};  // TOML literal as in conf/mxgate.toml; "" = required
  uint64_t min = 0;
  uint64_t max = kNoLimit;
  std::span<const std::string_view> choices = {};
  uint64_t resolution = kMicrosecond;  // Duration: microseconds per unit of the stored field
  // String / each array element: "" = ok, else why not. Enum: called for a value not among
  // choices, to add a hint (e.g. the new name of an old value) to the error.
  std::string (*check)(std::string_view) = nullptr;
  Echo echo = Echo::Value;  // how an error message may repeat a value that failed check
  std::string_view only_for = {};  // policy keys: the delivery target they belong to
  // Node keys: a reload (SIGHUP) applies a new value; otherwise it takes effect on restart.
  // (Policy keys all apply on reload.)
  bool live = false;
  std::string_view help;
  void (*store)(Target&, const Parsed&);
};

// Node keys outside [[listener]], in the order of conf/mxgate.toml.
std::span<const Key<Config>> nodeKeys();
// Keys of one [[listener]] table, named "listener.<key>".
std::span<const Key<Listener>> listenerKeys();
// Keys of a tenant policy file.
std::span<const Key<Tenant>> policyKeys();
// Keys of one [[dkim.keys]] table of a tenant policy file, named "dkim.keys.<key>".
std::span<const Key<DkimKey>> dkimKeyKeys();
// The listeners used when the node file has no [[listener]] at all.
std::span<const Listener> defaultListeners();

// The TLS security levels of the SMTP client towards a configured next hop (delivery.tls,
// bounces.tls), by name, and what each name means; MX delivery (outbound.tls and a
// destinations file's tls) also has "dane", which needs the exchangers' DNS.
inline constexpr std::array<std::string_view, 4> kClientTlsNames{"none", "may", "encrypt", "verify"};
inline constexpr std::array<ClientTls, 4> kClientTls{ClientTls::None, ClientTls::May, ClientTls::Encrypt,
                                                     ClientTls::Verify};
inline constexpr std::array<std::string_view, 5> kMxTlsNames{"none", "may", "encrypt", "verify", "dane"};
inline constexpr std::array<ClientTls, 5> kMxTls{ClientTls::None, ClientTls::May, ClientTls::Encrypt,
                                                 ClientTls::Verify, ClientTls::Dane};

inline constexpr std::string_view kListenerSection = "listener";
inline constexpr std::string_view kDeliveryTarget = "delivery.target";
inline constexpr std::string_view kDkimKeysSection = "dkim.keys";

// A bound or value in the key's own notation: 1000, "64KiB", "5m".
std::string formatBound(Type type, uint64_t value);

// Every dotted key that text sets to a value (tables of [[arrays]] contribute
// "<array>.<key>"), sorted and unique. False with a reason in error when text is not TOML.
bool keysSetIn(const std::string& text, std::vector<std::string>& out, std::string& error);

}  // namespace mxgate::config::schema
