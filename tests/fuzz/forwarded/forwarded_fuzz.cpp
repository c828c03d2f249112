// libFuzzer target for the client address behind trusted proxies (X-Forwarded-For, see
// include/mxgate/http/forwarded.h). Input: the peer address on the first line, then one
// X-Forwarded-For value per line. Invariants (trap on failure): an untrusted peer is always the
// answer; any other answer is a numeric address taken from the input; the answer does not
// change when the values are joined into one field (RFC 9110 §5.3: they are one list).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/http/forwarded.h"

namespace {

using namespace mxgate;

const std::vector<IpNetwork>& trusted() {
  static const std::vector<IpNetwork> networks = parseNetworks({"10.0.0.0/8", "127.0.0.0/8", "2001:db8::/32"});
  return networks;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view peer = input.substr(0, newline);
  std::vector<std::string_view> values;
  std::string joined;
  for (size_t start = newline; start != std::string_view::npos && values.size() < 16;) {
    const size_t end = input.find('\n', start + 1);
    values.push_back(input.substr(start + 1, end == std::string_view::npos ? std::string_view::npos : end - start - 1));
    joined += (joined.empty() ? "" : ",") + std::string(values.back());
    start = end;
  }
  const std::string client = http::clientAddress(peer, values, trusted());
  if (!inAnyNetwork(trusted(), peer) && client != peer) {
    __builtin_trap();
  }
  if (client != peer && (!IpNetwork::around(client, 32, 128) || input.find(client) == std::string_view::npos)) {
    __builtin_trap();
  }
  if (!values.empty() && http::clientAddress(peer, {joined}, trusted()) != client) {
    __builtin_trap();
  }
  return 0;
}
