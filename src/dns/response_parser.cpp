// The DNS response parser: RFC 1035 §4.1 (header, question, resource records) and §4.1.4
// (compression: a pointer must point to a prior occurrence, so every jump goes strictly
// backwards and a pointer loop cannot exist), RFC 1035 §2.3.4 (labels ≤ 63, names ≤ 255
// octets), RFC 2181 §8 (a TTL with the top bit set counts as 0) and §10.1 (CNAME chains within
// one response), RFC 2308 §5 (negative answers live min(SOA TTL, SOA MINIMUM)), RFC 6698 §2.1
// (TLSA) and the AD bit (RFC 4035 §3.2.3). Every read is
// bounds-checked and anything malformed, truncated or mismatched is ServFail.
// Pure functions; any thread.
#include "response_parser.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mxgate/base/ascii.h"

namespace mxgate::dns {
namespace {

constexpr size_t kMaxNameWire = 255;  // RFC 1035 §2.3.4: length octets and the root included
constexpr size_t kMaxCnameLinks = 8;
constexpr size_t kSoaFixedTail = 20;  // SERIAL REFRESH RETRY EXPIRE MINIMUM
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kRcodeNoError = 0;
constexpr uint16_t kRcodeNxDomain = 3;
constexpr uint16_t kFlagAd = 0x0020;  // RFC 4035 §3.2.3, RFC 6840 §5.7
constexpr uint32_t kMaxTtl = 0x7FFFFFFF;  // RFC 2181 §8

struct Record {
  std::string owner;
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  size_t rdata = 0;  // offset of the RDATA in the packet
  size_t rdlength = 0;
};

// Reads big-endian fields and names from the packet. Every position handed in is at most the
// packet size; every read checks the remaining length before it looks.
class Reader {
 public:
  explicit Reader(std::string_view packet) : packet_(packet) {}

  size_t size() const { return packet_.size(); }
  uint8_t byte(size_t pos) const { return static_cast<uint8_t>(packet_[pos]); }

  bool u16(size_t& pos, uint16_t& out) const {
    if (packet_.size() - pos < 2) {
      return false;
    }
    out = static_cast<uint16_t>((byte(pos) << 8) | byte(pos + 1));
    pos += 2;
    return true;
  }

  bool u32(size_t& pos, uint32_t& out) const {
    uint16_t high = 0;
    uint16_t low = 0;
    if (!u16(pos, high) || !u16(pos, low)) {
      return false;
    }
    out = (static_cast<uint32_t>(high) << 16) | low;
    return true;
  }

  // Decodes the name at pos, lower-cased, labels joined by '.', no trailing dot (the root is
  // ""). pos moves past the name as it is stored at pos (up to and including the first pointer).
  bool name(size_t& pos, std::string& out) const {
    out.clear();
    size_t cursor = pos;
    size_t floor = pos;  // a pointer must point below this: to a prior occurrence
    size_t wire = 1;     // the terminating root label
    bool jumped = false;
    for (;;) {
      if (cursor >= packet_.size()) {
        return false;
      }
      const uint8_t length = byte(cursor);
      if ((length & 0xC0) == 0xC0) {
        if (packet_.size() - cursor < 2) {
          return false;
        }
        const size_t target = (static_cast<size_t>(length & 0x3F) << 8) | byte(cursor + 1);
        if (target >= floor) {
          return false;
        }
        if (!jumped) {
          pos = cursor + 2;
          jumped = true;
        }
        floor = target;
        cursor = target;
        continue;
      }
      if ((length & 0xC0) != 0) {
        return false;  // the 01 and 10 label types are not in use
      }
      if (length == 0) {
        if (!jumped) {
          pos = cursor + 1;
        }
        return true;
      }
      wire += 1 + static_cast<size_t>(length);
      if (wire > kMaxNameWire || packet_.size() - cursor - 1 < length) {
        return false;
      }
      if (!out.empty()) {
        out.push_back('.');
      }
      for (size_t i = 0; i < length; ++i) {
        out.push_back(ascii::toLower(packet_[cursor + 1 + i]));
      }
      cursor += 1 + static_cast<size_t>(length);
    }
  }

  bool record(size_t& pos, Record& out) const {
    uint16_t rdlength = 0;
    if (!name(pos, out.owner) || !u16(pos, out.type) || !u16(pos, out.klass) || !u32(pos, out.ttl) ||
        !u16(pos, rdlength) || packet_.size() - pos < rdlength) {
      return false;
    }
    if (out.ttl > kMaxTtl) {
      out.ttl = 0;
    }
    out.rdata = pos;
    out.rdlength = rdlength;
    pos += rdlength;
    return true;
  }

  // A name that fills the RDATA from pos to its end exactly.
  bool rdataName(const Record& record, size_t pos, std::string& out) const {
    return name(pos, out) && pos == record.rdata + record.rdlength;
  }

 private:
  std::string_view packet_;
};

bool readSection(const Reader& reader, size_t& pos, uint16_t count, std::vector<Record>* out) {
  for (uint16_t i = 0; i < count; ++i) {
    Record record;
    if (!reader.record(pos, record)) {
      return false;
    }
    if (out != nullptr) {
      out->push_back(std::move(record));
    }
  }
  return true;
}

// A record of the type, class IN, owned by owner.
bool owns(const Record& record, std::string_view owner, RrType type) {
  return record.klass == kClassIn && record.type == static_cast<uint16_t>(type) && record.owner == owner;
}

bool decodeAddress(const Reader& reader, const Record& record, int family, std::string& out) {
  const size_t length = family == AF_INET ? sizeof(in_addr) : sizeof(in6_addr);
  if (record.rdlength != length) {
    return false;
  }
  unsigned char raw[sizeof(in6_addr)];
  for (size_t i = 0; i < length; ++i) {
    raw[i] = reader.byte(record.rdata + i);
  }
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(family, raw, text, sizeof(text)) == nullptr) {
    return false;
  }
  out = text;
  return true;
}

bool decodeTxt(const Reader& reader, const Record& record, std::string& out) {
  out.clear();
  size_t pos = record.rdata;
  const size_t end = record.rdata + record.rdlength;
  while (pos < end) {
    const size_t length = reader.byte(pos);
    if (end - pos - 1 < length) {
      return false;
    }
    for (size_t i = 0; i < length; ++i) {
      out.push_back(static_cast<char>(reader.byte(pos + 1 + i)));
    }
    pos += 1 + length;
  }
  return true;
}

bool decodeMx(const Reader& reader, const Record& record, MxHost& out) {
  size_t pos = record.rdata;
  return reader.u16(pos, out.preference) && pos <= record.rdata + record.rdlength &&
         reader.rdataName(record, pos, out.host);
}

// MNAME into mname; MINIMUM into minimum. The fixed tail must end the RDATA exactly.
bool decodeSoa(const Reader& reader, const Record& record, std::string& mname, uint32_t& minimum) {
  size_t pos = record.rdata;
  std::string rname;
  const size_t end = record.rdata + record.rdlength;
  if (!reader.name(pos, mname) || !reader.name(pos, rname) || pos > end || end - pos != kSoaFixedTail) {
    return false;
  }
  pos = end - sizeof(uint32_t);
  return reader.u32(pos, minimum);
}

// RFC 6698 §2.1: three octets, then at least one octet of certificate association data.
bool decodeTlsa(const Reader& reader, const Record& record, Tlsa& out) {
  if (record.rdlength < 4) {
    return false;
  }
  out.usage = reader.byte(record.rdata);
  out.selector = reader.byte(record.rdata + 1);
  out.matching_type = reader.byte(record.rdata + 2);
  out.data.reserve(record.rdlength - 3);
  for (size_t i = 3; i < record.rdlength; ++i) {
    out.data.push_back(static_cast<char>(reader.byte(record.rdata + i)));
  }
  return true;
}

bool decodeRecord(const Reader& reader, const Record& record, RrType type, Answer& answer) {
  std::string text;
  switch (type) {
    case RrType::A:
    case RrType::AAAA:
      if (!decodeAddress(reader, record, type == RrType::A ? AF_INET : AF_INET6, text)) {
        return false;
      }
      answer.addresses.push_back(std::move(text));
      return true;
    case RrType::TXT:
      if (!decodeTxt(reader, record, text)) {
        return false;
      }
      answer.texts.push_back(std::move(text));
      return true;
    case RrType::MX: {
      MxHost host;
      if (!decodeMx(reader, record, host)) {
        return false;
      }
      answer.mx.push_back(std::move(host));
      return true;
    }
    case RrType::PTR:
    case RrType::CNAME:
      if (!reader.rdataName(record, record.rdata, text)) {
        return false;
      }
      answer.names.push_back(std::move(text));
      return true;
    case RrType::TLSA: {
      Tlsa tlsa;
      if (!decodeTlsa(reader, record, tlsa)) {
        return false;
      }
      answer.tlsa.push_back(std::move(tlsa));
      return true;
    }
    case RrType::SOA: {
      uint32_t minimum = 0;
      if (!decodeSoa(reader, record, text, minimum)) {
        return false;
      }
      answer.names.push_back(std::move(text));
      return true;
    }
  }
  return false;
}

detail::ParsedResponse failure() {
  detail::ParsedResponse parsed;
  parsed.answer.status = Status::ServFail;
  return parsed;
}

// NXDOMAIN or NODATA: the TTL comes from the first SOA in the authority section (RFC 2308 §5).
detail::ParsedResponse negative(const Reader& reader, const std::vector<Record>& authority, Status status) {
  detail::ParsedResponse parsed;
  parsed.answer.status = status;
  for (const Record& record : authority) {
    if (record.klass != kClassIn || record.type != static_cast<uint16_t>(RrType::SOA)) {
      continue;
    }
    std::string mname;
    uint32_t minimum = 0;
    if (!decodeSoa(reader, record, mname, minimum)) {
      return failure();
    }
    parsed.has_soa = true;
    parsed.answer.ttl = std::min(record.ttl, std::min(minimum, kMaxTtl));
    break;
  }
  return parsed;
}

}  // namespace

std::string canonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return ascii::toLowerCopy(name);
}

namespace detail {

ParsedResponse parseResponseDetailed(std::string_view packet, std::string_view name, RrType type) {
  const Reader reader(packet);
  size_t pos = 0;
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
  if (!reader.u16(pos, id) || !reader.u16(pos, flags) || !reader.u16(pos, qdcount) || !reader.u16(pos, ancount) ||
      !reader.u16(pos, nscount) || !reader.u16(pos, arcount)) {
    return failure();
  }
  const bool response = (flags & 0x8000) != 0;
  const uint16_t opcode = (flags >> 11) & 0x0F;
  const bool truncated = (flags & 0x0200) != 0;
  const uint16_t rcode = flags & 0x0F;
  if (!response || opcode != 0 || truncated || qdcount != 1) {
    return failure();
  }

  std::string qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  if (!reader.name(pos, qname) || !reader.u16(pos, qtype) || !reader.u16(pos, qclass) || qname != canonicalName(name) ||
      qtype != static_cast<uint16_t>(type) || qclass != kClassIn) {
    return failure();
  }

  std::vector<Record> answers;
  std::vector<Record> authority;
  if (!readSection(reader, pos, ancount, &answers) || !readSection(reader, pos, nscount, &authority) ||
      !readSection(reader, pos, arcount, nullptr)) {
    return failure();
  }
  if (rcode != kRcodeNoError && rcode != kRcodeNxDomain) {
    return failure();
  }

  // Follow the CNAME chain from the question name (RFC 2181 §10.1); a CNAME query stops at once.
  uint32_t ttl = std::numeric_limits<uint32_t>::max();
  std::string current = qname;
  std::vector<std::string> visited{qname};
  std::vector<const Record*> matches;
  for (size_t links = 0;; ++links) {
    for (const Record& record : answers) {
      if (owns(record, current, type)) {
        matches.push_back(&record);
      }
    }
    if (!matches.empty() || type == RrType::CNAME) {
      break;
    }
    const auto cname = std::find_if(answers.begin(), answers.end(),
                                    [&](const Record& record) { return owns(record, current, RrType::CNAME); });
    if (cname == answers.end()) {
      break;
    }
    std::string target;
    if (links == kMaxCnameLinks || !reader.rdataName(*cname, cname->rdata, target) ||
        std::find(visited.begin(), visited.end(), target) != visited.end()) {
      return failure();
    }
    ttl = std::min(ttl, cname->ttl);
    visited.push_back(target);
    current = std::move(target);
  }

  const bool authenticated = (flags & kFlagAd) != 0;
  if (rcode == kRcodeNxDomain || matches.empty()) {
    ParsedResponse parsed = negative(reader, authority, rcode == kRcodeNxDomain ? Status::NxDomain : Status::NoData);
    parsed.answer.authenticated = authenticated && parsed.answer.status != Status::ServFail;
    return parsed;
  }
  ParsedResponse parsed;
  parsed.answer.authenticated = authenticated;
  parsed.answer.status = Status::Ok;
  for (const Record* record : matches) {
    if (!decodeRecord(reader, *record, type, parsed.answer)) {
      return failure();
    }
    ttl = std::min(ttl, record->ttl);
  }
  parsed.answer.ttl = ttl;
  return parsed;
}

}  // namespace detail

Answer parseResponse(std::string_view packet, std::string_view name, RrType type) {
  return detail::parseResponseDetailed(packet, name, type).answer;
}

}  // namespace mxgate::dns
