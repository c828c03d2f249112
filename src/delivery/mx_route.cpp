// MX routes (see include/mxgate/delivery/mx_route.h; RFC 5321 §5.1, RFC 7505). resolve() posts
// its queries to the shared resolver; every answer, and so all state of one resolution, is
// handled on the resolver's loop thread.
#include "mxgate/delivery/mx_route.h"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>

#include "mxgate/base/ascii.h"
#include "mxgate/io/loop.h"

namespace mxgate::delivery {
namespace {

const char* lookupFailure(dns::Status status) {
  return status == dns::Status::Timeout ? "timeout" : "server failure";
}

// "[192.0.2.1]" or "[IPv6:2001:db8::1]" as a numeric address; "" when the literal is not one.
std::string addressLiteral(std::string_view domain) {
  std::string_view inner = domain.substr(1, domain.size() - 2);
  const bool v6 = ascii::startsWithIgnoreCase(inner, "IPv6:");
  if (v6) {
    inner.remove_prefix(5);
  }
  const std::string text(inner);
  unsigned char buffer[16];
  return inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), buffer) == 1 ? text : std::string();
}

}  // namespace

Outcome MxRoute::outcome() const {
  switch (status) {
    case Status::Ok:
      return Outcome::Delivered;
    case Status::TempFail:
      return Outcome::TempFail;
    default:
      return Outcome::PermFail;
  }
}

std::string MxRoute::reply() const {
  switch (status) {
    case Status::Ok:
      return "";
    case Status::NullMx:
      return "550 5.1.10 " + domain + " accepts no mail (null MX, RFC 7505)";
    case Status::NoDomain:
      return "550 5.1.2 " + domain + ": " + detail;
    case Status::NoAddress:
      return "550 5.4.4 " + domain + ": " + detail;
    case Status::TempFail:
      return "451 4.4.3 " + domain + ": " + detail;
  }
  return "";
}

std::vector<dns::MxHost> orderByPreference(std::vector<dns::MxHost> hosts, std::mt19937& random) {
  std::shuffle(hosts.begin(), hosts.end(), random);
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const dns::MxHost& a, const dns::MxHost& b) { return a.preference < b.preference; });
  return hosts;
}

// The state of one resolution: the mail exchangers in order and, per exchanger, the answers
// to its AAAA and A queries as they arrive.
struct MxResolver::Resolution {
  MxRoute route;
  std::function<void(MxRoute)> done;
  std::vector<dns::MxHost> hosts;
  std::vector<dns::AnswerPtr> v6;  // per host; null until answered (or not asked)
  std::vector<dns::AnswerPtr> v4;
  size_t outstanding = 0;
  bool mx_secure = false;  // the MX answer (or its denial, for an implicit MX) was validated

  void finish(const config::MxSettings& settings) {
    bool temporary = false;
    std::vector<std::string> seen;
    for (size_t i = 0; i < hosts.size(); ++i) {
      const dns::AnswerPtr& first = settings.prefer_ipv6 ? v6[i] : v4[i];
      const dns::AnswerPtr& second = settings.prefer_ipv6 ? v4[i] : v6[i];
      for (const dns::AnswerPtr* answer : {&first, &second}) {
        if (!*answer) {
          continue;
        }
        temporary = temporary || (*answer)->temporary();
        for (const std::string& address : (*answer)->addresses) {
          if (route.hops.size() < settings.max_addresses &&
              std::find(seen.begin(), seen.end(), address) == seen.end()) {
            seen.push_back(address);
            route.hops.push_back(
                MxHop{hosts[i].host, address, hosts[i].preference, mx_secure && (*answer)->authenticated});
          }
        }
      }
    }
    if (!route.hops.empty()) {
      route.status = MxRoute::Status::Ok;
    } else if (temporary) {
      route.status = MxRoute::Status::TempFail;
      route.detail = "address lookup of the mail exchangers failed";
    } else {
      route.status = MxRoute::Status::NoAddress;
      route.detail = route.implicit ? "no MX and no address records" : "no mail exchanger has an address";
    }
    done(std::move(route));
  }
};

MxResolver::MxResolver(dns::Resolver& resolver, const config::MxSettings& settings)
    : resolver_(resolver), settings_(settings), random_(std::random_device{}()) {}

void MxResolver::resolve(std::string domain, std::function<void(MxRoute)> done) {
  auto resolution = std::make_shared<Resolution>();
  resolution->done = std::move(done);
  resolution->route.domain = domain;
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    // Answered on the resolver's thread like every other route, never inline.
    resolver_.loop().post([resolution, address = addressLiteral(domain)] {
      MxRoute& route = resolution->route;
      if (address.empty()) {
        route.status = MxRoute::Status::NoDomain;
        route.detail = "not a valid address literal";
      } else {
        route.status = MxRoute::Status::Ok;
        route.hops.push_back(MxHop{"", address, 0});
      }
      resolution->done(std::move(route));
    });
    return;
  }
  resolver_.query(domain, dns::RrType::MX, [this, resolution](dns::AnswerPtr answer) {
    MxRoute& route = resolution->route;
    resolution->mx_secure = answer->authenticated;
    switch (answer->status) {
      case dns::Status::ServFail:
      case dns::Status::Timeout:
        route.status = MxRoute::Status::TempFail;
        route.detail = std::string("MX lookup failed: ") + lookupFailure(answer->status);
        resolution->done(std::move(route));
        return;
      case dns::Status::NxDomain:
        route.status = MxRoute::Status::NoDomain;
        route.detail = "no such domain";
        resolution->done(std::move(route));
        return;
      case dns::Status::NoData:
        route.implicit = true;
        resolveHosts(resolution, {dns::MxHost{0, dns::canonicalName(route.domain)}});
        return;
      case dns::Status::Ok:
        break;
    }
    if (answer->mx.size() == 1 && answer->mx.front().host.empty()) {
      route.status = MxRoute::Status::NullMx;
      route.detail = "null MX";
      resolution->done(std::move(route));
      return;
    }
    std::vector<dns::MxHost> hosts;
    for (const dns::MxHost& host : answer->mx) {
      if (!host.host.empty()) {  // "." beside real exchangers is no mail exchanger
        hosts.push_back(host);
      }
    }
    resolveHosts(resolution, orderByPreference(std::move(hosts), random_));
  });
}

void MxResolver::resolveHosts(std::shared_ptr<Resolution> resolution, std::vector<dns::MxHost> hosts) {
  // Each exchanger has at least one address, so more than max_addresses of them are never used.
  if (hosts.size() > settings_.max_addresses) {
    hosts.resize(settings_.max_addresses);
  }
  resolution->hosts = std::move(hosts);
  const size_t count = resolution->hosts.size();
  resolution->v6.resize(count);
  resolution->v4.resize(count);
  resolution->outstanding = count * ((settings_.ipv6 ? 1 : 0) + (settings_.ipv4 ? 1 : 0));
  if (resolution->outstanding == 0) {
    resolution->finish(settings_);
    return;
  }
  const config::MxSettings settings = settings_;
  for (size_t i = 0; i < count; ++i) {
    for (const bool v6 : {true, false}) {
      if (v6 ? !settings.ipv6 : !settings.ipv4) {
        continue;
      }
      resolver_.query(resolution->hosts[i].host, v6 ? dns::RrType::AAAA : dns::RrType::A,
                      [resolution, settings, i, v6](dns::AnswerPtr answer) {
                        (v6 ? resolution->v6 : resolution->v4)[i] = std::move(answer);
                        if (--resolution->outstanding == 0) {
                          resolution->finish(settings);
                        }
                      });
    }
  }
}

}  // namespace mxgate::delivery
