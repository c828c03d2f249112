// X-Forwarded-For evaluation against trusted proxies (see include/mxgate/http/forwarded.h).
// Pure; any thread.
#include "mxgate/http/forwarded.h"

#include <optional>

namespace mxgate::http {
namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool isAddress(std::string_view text) { return IpNetwork::around(text, 32, 128).has_value(); }

bool isPort(std::string_view text) {
  return !text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// The address in one list entry, without brackets or port; nullopt when it holds none.
std::optional<std::string_view> entryAddress(std::string_view entry) {
  entry = trimmed(entry);
  if (entry.starts_with('[')) {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && isPort(rest.substr(1)))) {
      return std::nullopt;
    }
    entry = entry.substr(1, close - 1);
  } else if (const size_t colon = entry.find(':');
             colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    if (!isPort(entry.substr(colon + 1))) {
      return std::nullopt;
    }
    entry = entry.substr(0, colon);  // IPv4 with a port
  }
  if (!isAddress(entry)) {
    return std::nullopt;
  }
  return entry;
}

}  // namespace

std::string clientAddress(std::string_view peer, const std::vector<std::string_view>& forwarded_for,
                          const std::vector<IpNetwork>& trusted_proxies) {
  std::string_view client = peer;
  if (!inAnyNetwork(trusted_proxies, client)) {
    return std::string(client);
  }
  for (auto value = forwarded_for.rbegin(); value != forwarded_for.rend(); ++value) {
    std::string_view list = *value;
    while (true) {
      const size_t comma = list.rfind(',');
      const std::string_view entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
      if (!trimmed(entry).empty()) {
        const std::optional<std::string_view> address = entryAddress(entry);
        if (!address) {
          return std::string(client);
        }
        client = *address;
        if (!inAnyNetwork(trusted_proxies, client)) {
          return std::string(client);
        }
      }
      if (comma == std::string_view::npos) {
        break;
      }
      list = list.substr(0, comma);
    }
  }
  return std::string(client);
}

}  // namespace mxgate::http
