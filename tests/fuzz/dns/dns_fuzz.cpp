// libFuzzer target for the DNS response parser (RFC 1035 §4.1, §4.1.4 compression; RFC 2181;
// RFC 2308; RFC 6698 TLSA; the AD bit): the first byte picks the asked type, the rest is the packet. The packet is parsed
// for a fixed name and for the name in its own question (read here without compression), so
// inputs get past the question check into the answer, authority and additional sections.
// Invariants, checked with __builtin_trap(): records only with Ok, and then only of the asked
// type; names lower-case and at most 253 characters; addresses valid; TLSA data never empty;
// a failure never authenticated; TTLs at most 2^31 − 1.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/dns/resolver.h"

namespace {

using mxgate::dns::Answer;
using mxgate::dns::RrType;
using mxgate::dns::Status;

constexpr RrType kTypes[] = {RrType::A,  RrType::CNAME, RrType::SOA,  RrType::PTR,
                             RrType::MX, RrType::TXT,   RrType::AAAA, RrType::TLSA};
constexpr size_t kHeaderSize = 12;

// The question name as plain labels from offset 12; "" when it is compressed or malformed.
std::string questionName(std::string_view packet) {
  std::string name;
  size_t pos = kHeaderSize;
  while (pos < packet.size()) {
    const size_t length = static_cast<uint8_t>(packet[pos]);
    if (length == 0) {
      return name;
    }
    if (length > 63 || packet.size() - pos - 1 < length) {
      return "";
    }
    if (!name.empty()) {
      name.push_back('.');
    }
    name.append(packet.substr(pos + 1, length));
    pos += 1 + length;
  }
  return "";
}

void checkName(const std::string& name) {
  if (name.size() > 253) {
    __builtin_trap();
  }
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      __builtin_trap();
    }
  }
}

void check(const Answer& answer, RrType type) {
  const size_t records =
      answer.addresses.size() + answer.texts.size() + answer.mx.size() + answer.names.size() + answer.tlsa.size();
  if (answer.temporary() && answer.authenticated) {
    __builtin_trap();
  }
  if (answer.ttl > 0x7FFFFFFFu) {
    __builtin_trap();
  }
  if (answer.status != Status::Ok) {
    if (records != 0 || (answer.temporary() && answer.ttl != 0)) {
      __builtin_trap();
    }
    return;
  }
  size_t of_type = 0;
  switch (type) {
    case RrType::A:
    case RrType::AAAA:
      of_type = answer.addresses.size();
      for (const std::string& address : answer.addresses) {
        unsigned char raw[sizeof(in6_addr)];
        if (inet_pton(type == RrType::A ? AF_INET : AF_INET6, address.c_str(), raw) != 1) {
          __builtin_trap();
        }
      }
      break;
    case RrType::TXT:
      of_type = answer.texts.size();
      break;
    case RrType::MX:
      of_type = answer.mx.size();
      for (const auto& host : answer.mx) {
        checkName(host.host);
      }
      break;
    case RrType::TLSA:
      of_type = answer.tlsa.size();
      for (const auto& record : answer.tlsa) {
        if (record.data.empty()) {
          __builtin_trap();
        }
      }
      break;
    case RrType::PTR:
    case RrType::CNAME:
    case RrType::SOA:
      of_type = answer.names.size();
      for (const std::string& name : answer.names) {
        checkName(name);
      }
      break;
  }
  if (of_type == 0 || of_type != records) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const RrType type = kTypes[data[0] % (sizeof(kTypes) / sizeof(kTypes[0]))];
  const std::string_view packet(reinterpret_cast<const char*>(data + 1), size - 1);
  check(mxgate::dns::parseResponse(packet, "example.test", type), type);
  check(mxgate::dns::parseResponse(packet, questionName(packet), type), type);
  return 0;
}
