// The in-memory resolver of the SPF tests (see zone_dns.h). Test support only.
#include "zone_dns.h"

#include <arpa/inet.h>

#include "mxgate/base/ascii.h"
#include "yaml_reader.h"

namespace mxgate::spf::test {
namespace {

constexpr int kMaxCnameChain = 8;

std::string key(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return ascii::toLowerCopy(name);
}

std::string_view typeName(dns::RrType type) {
  switch (type) {
    case dns::RrType::A:
      return "A";
    case dns::RrType::AAAA:
      return "AAAA";
    case dns::RrType::MX:
      return "MX";
    case dns::RrType::PTR:
      return "PTR";
    case dns::RrType::TXT:
      return "TXT";
    case dns::RrType::CNAME:
      return "CNAME";
    case dns::RrType::SOA:
      return "SOA";
    case dns::RrType::TLSA:
      return "TLSA";
  }
  return "?";
}

// AAAA text as a resolver prints it (inet_ntop: lower case, RFC 5952 compression).
std::string canonicalIpv6(const std::string& text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET6, text.c_str(), bytes) != 1 || inet_ntop(AF_INET6, bytes, out, sizeof(out)) == nullptr) {
    return text;
  }
  return out;
}

std::string withoutDot(std::string name) {
  if (!name.empty() && name.back() == '.') {
    name.pop_back();
  }
  return name;
}

// A TXT/SPF value: one string, or a list of strings that make one record.
bool textOf(const YamlNode& node, std::string& out) {
  if (node.kind == YamlNode::Kind::Scalar) {
    out = node.scalar;
    return true;
  }
  if (node.kind != YamlNode::Kind::List) {
    return false;
  }
  out.clear();
  for (const YamlNode& part : node.items) {
    out += part.scalar;
  }
  return true;
}

}  // namespace

void ZoneDns::add(std::string_view owner, std::string type, std::string value, uint16_t preference) {
  zone_[key(owner)].push_back(Entry{std::move(type), std::move(value), preference});
}

void ZoneDns::addNoTxt(std::string_view owner) { zone_[key(owner)].push_back(Entry{"NOTXT", {}, 0}); }

void ZoneDns::addTimeout(std::string_view owner) { zone_[key(owner)].push_back(Entry{"TIMEOUT", {}, 0}); }

bool ZoneDns::load(const YamlNode& zonedata, std::string& error) {
  for (const auto& [owner, records] : zonedata.entries) {
    zone_[key(owner)];  // the name exists even when it has no records
    for (const YamlNode& record : records.items) {
      if (record.kind == YamlNode::Kind::Scalar && record.scalar == "TIMEOUT") {
        addTimeout(owner);
        continue;
      }
      if (record.kind != YamlNode::Kind::Map || record.entries.size() != 1) {
        error = "unexpected record under " + owner;
        return false;
      }
      const auto& [type, value] = record.entries.front();
      if (type == "TXT" || type == "SPF") {
        std::string text;
        if (!textOf(value, text)) {
          error = "bad " + type + " value under " + owner;
          return false;
        }
        if (value.kind == YamlNode::Kind::Scalar && text == "NONE") {
          if (type == "TXT") {
            addNoTxt(owner);
          }
          continue;
        }
        add(owner, type, std::move(text));
      } else if (type == "MX") {
        if (value.kind != YamlNode::Kind::List || value.items.size() != 2) {
          error = "bad MX under " + owner;
          return false;
        }
        add(owner, "MX", value.items[1].scalar, static_cast<uint16_t>(std::stoi(value.items[0].scalar)));
      } else if (type == "A" || type == "AAAA" || type == "PTR" || type == "CNAME") {
        add(owner, type, value.scalar);
      } else {
        error = "unknown record type " + type + " under " + owner;
        return false;
      }
    }
  }
  return true;
}

dns::Answer ZoneDns::resolve(const std::string& name, dns::RrType type, int depth) const {
  dns::Answer answer;
  const auto found = zone_.find(key(name));
  if (found == zone_.end()) {
    answer.status = dns::Status::NxDomain;
    return answer;
  }
  const std::vector<Entry>& entries = found->second;
  bool has_txt = false;
  for (const Entry& entry : entries) {
    has_txt = has_txt || entry.type == "TXT" || entry.type == "NOTXT";
  }
  const std::string_view wanted = typeName(type);
  std::string cname;
  bool timeout = false;
  size_t records = 0;
  for (const Entry& entry : entries) {
    if (entry.type == "TIMEOUT") {
      timeout = records == 0;
      break;
    }
    const bool as_txt = type == dns::RrType::TXT && entry.type == "SPF" && !has_txt;
    if (entry.type == "CNAME") {
      cname = entry.value;
    }
    if (entry.type != wanted && !as_txt) {
      continue;
    }
    ++records;
    switch (type) {
      case dns::RrType::TXT:
        answer.texts.push_back(entry.value);
        break;
      case dns::RrType::A:
        answer.addresses.push_back(entry.value);
        break;
      case dns::RrType::AAAA:
        answer.addresses.push_back(canonicalIpv6(entry.value));
        break;
      case dns::RrType::MX:
        answer.mx.push_back(dns::MxHost{entry.preference, withoutDot(ascii::toLowerCopy(entry.value))});
        break;
      case dns::RrType::PTR:
      case dns::RrType::CNAME:
        answer.names.push_back(withoutDot(entry.value));
        break;
      case dns::RrType::SOA:
      case dns::RrType::TLSA:  // not in SPF zones
        break;
    }
  }
  if (timeout) {
    answer.status = dns::Status::Timeout;
    return answer;
  }
  if (records > 0) {
    answer.status = dns::Status::Ok;
    return answer;
  }
  if (!cname.empty()) {
    if (depth >= kMaxCnameChain) {
      answer.status = dns::Status::ServFail;  // a CNAME loop
      return answer;
    }
    return resolve(cname, type, depth + 1);
  }
  answer.status = dns::Status::NoData;
  return answer;
}

void ZoneDns::lookup(const std::string& name, dns::RrType type, dns::Callback done) {
  ++lookups_;
  log_.push_back(std::string(typeName(type)) + " " + name);
  auto answer = std::make_shared<const dns::Answer>(resolve(name, type, 0));
  if (mode_ == Mode::Immediate) {
    done(std::move(answer));
    return;
  }
  pending_.emplace_back(std::move(done), std::move(answer));
}

size_t ZoneDns::runPending() {
  size_t answered = 0;
  while (!pending_.empty()) {
    auto [done, answer] = std::move(pending_.front());
    pending_.pop_front();
    done(std::move(answer));
    ++answered;
  }
  return answered;
}

}  // namespace mxgate::spf::test
