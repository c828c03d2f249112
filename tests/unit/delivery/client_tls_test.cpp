// Unit tests for the SMTP client's TLS security levels (ClientTlsContexts / ClientTlsPolicy):
// what each level does, one context per distinct verification setting shared by every next
// hop that uses it, the peer name, a CA file that does not load naming the policy file, and
// DANE (RFC 7672): which level a tenant and a destination entry give together, and what a TLSA
// answer does to an exchanger's policy (usable, unusable, not validated, absent, failed).
#include <openssl/ssl.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "mxgate/tls/tls.h"

using namespace mxgate;
using config::ClientTls;

namespace {

config::PolicySource smtpPolicy(const std::string& id, const std::string& extra) {
  return {id + ".toml", "tenant = \"" + id + "\"\ndomains = [\"" + id + ".test\"]\n[delivery]\ntarget = \"smtp\"\n" +
                            "host = \"relay." + id + ".test\"\n" + extra};
}

std::shared_ptr<const config::Config> load(const std::vector<config::PolicySource>& policies) {
  const config::LoadResult result = config::loadFromText("node.toml", "[node]\nhostname = \"mx.test\"\n", policies);
  for (const auto& error : result.errors) {
    BOOST_TEST_MESSAGE(error.str());
  }
  BOOST_REQUIRE(result.config != nullptr);
  return result.config;
}

const config::DeliveryTarget& deliveryOf(const config::Config& config, const std::string& id) {
  return config.tenantById(id)->delivery;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mxgate-client-tls-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A CA file: a self-signed certificate is its own trust anchor.
std::string caFile(const TempDir& dir, const std::string& name) {
  std::string error;
  BOOST_REQUIRE_MESSAGE(tls::ensureSelfSigned(dir.file(name + ".crt"), dir.file(name + ".key"), name, error), error);
  return dir.file(name + ".crt");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_tls)

BOOST_AUTO_TEST_CASE(levels_and_one_context_per_verification_setting) {
  TempDir dir;
  const std::string ca_a = caFile(dir, "a.test");
  const std::string ca_b = caFile(dir, "b.test");
  const auto config = load({
      smtpPolicy("none", "tls = \"none\"\n"),
      smtpPolicy("may", ""),
      smtpPolicy("encrypt", "tls = \"encrypt\"\ntls_verify_name = \"mx.encrypt.test\"\n"),
      smtpPolicy("system", "tls = \"verify\"\n"),
      smtpPolicy("ca-a", "tls = \"verify\"\ntls_ca_file = \"" + ca_a + "\"\ntls_verify_name = \"mx.a.test\"\n"),
      smtpPolicy("ca-a2", "tls = \"verify\"\ntls_ca_file = \"" + ca_a + "\"\n"),
      smtpPolicy("ca-b", "tls = \"verify\"\ntls_ca_file = \"" + ca_b + "\"\n"),
      smtpPolicy("may-ca", "tls_ca_file = \"" + ca_b + "\"\n"),
  });
  delivery::ClientTlsContexts contexts;
  std::string error;
  BOOST_REQUIRE_MESSAGE(contexts.build(*config, error), error);
  auto policy = [&](const std::string& id) { return contexts.policyFor(deliveryOf(*config, id)); };

  const auto none = policy("none");
  BOOST_TEST((none.level == ClientTls::None));
  BOOST_TEST(none.context == nullptr);
  BOOST_TEST(!none.usesStartTls());
  BOOST_TEST(!none.requiresTls());
  BOOST_TEST(!none.plaintextFallback());

  const auto may = policy("may");
  BOOST_TEST((may.level == ClientTls::May));  // the default
  BOOST_REQUIRE(may.context != nullptr);
  BOOST_TEST(SSL_CTX_get_verify_mode(may.context->raw()) == SSL_VERIFY_NONE);
  BOOST_TEST(SSL_CTX_get_min_proto_version(may.context->raw()) == TLS1_2_VERSION);
  BOOST_TEST(may.usesStartTls());
  BOOST_TEST(!may.requiresTls());
  BOOST_TEST(may.plaintextFallback());
  BOOST_TEST(may.peer_name == "relay.may.test");
  BOOST_TEST(policy("may-ca").context == may.context);  // a CA file means nothing without verify

  const auto encrypt = policy("encrypt");
  BOOST_TEST(encrypt.context == may.context);  // the same unverified context
  BOOST_TEST(encrypt.usesStartTls());
  BOOST_TEST(encrypt.requiresTls());
  BOOST_TEST(!encrypt.plaintextFallback());
  BOOST_TEST(encrypt.peer_name == "mx.encrypt.test");

  const auto system = policy("system");
  const auto a = policy("ca-a");
  const auto b = policy("ca-b");
  for (const auto* verify : {&system, &a, &b}) {
    BOOST_REQUIRE(verify->context != nullptr);
    BOOST_TEST(SSL_CTX_get_verify_mode(verify->context->raw()) == SSL_VERIFY_PEER);
    BOOST_TEST(verify->requiresTls());
    BOOST_TEST(!verify->plaintextFallback());
  }
  BOOST_TEST(a.context == policy("ca-a2").context);  // one context per CA file
  BOOST_TEST(a.context != b.context);
  BOOST_TEST(a.context != system.context);
  BOOST_TEST(a.peer_name == "mx.a.test");
  BOOST_TEST(policy("ca-a2").peer_name == "relay.ca-a2.test");
  BOOST_TEST(std::string(a.levelName()) == "verify");

  // A context of another build (a reload) is a new one: a changed CA file is read again.
  delivery::ClientTlsContexts again;
  BOOST_REQUIRE_MESSAGE(again.build(*config, error), error);
  BOOST_TEST(again.policyFor(deliveryOf(*config, "ca-a")).context != a.context);
}

BOOST_AUTO_TEST_CASE(a_ca_file_that_does_not_load_names_the_policy) {
  TempDir dir;
  const std::string junk = dir.file("junk.pem");
  std::ofstream(junk) << "no certificate here\n";
  const auto config = load({smtpPolicy("bad", "tls = \"verify\"\ntls_ca_file = \"" + junk + "\"\n")});
  delivery::ClientTlsContexts contexts;
  std::string error;
  BOOST_TEST(!contexts.build(*config, error));
  BOOST_TEST(error.starts_with("bad.toml: delivery.tls_ca_file: tls: cannot load CA file " + junk), error);
}

BOOST_AUTO_TEST_CASE(verify_without_a_built_context_gets_none) {
  const auto config = load({smtpPolicy("v", "tls = \"verify\"\n")});
  delivery::ClientTlsContexts unbuilt;
  const auto policy = unbuilt.policyFor(deliveryOf(*config, "v"));
  BOOST_TEST(policy.context == nullptr);
  BOOST_TEST(policy.requiresTls());  // so a connection fails rather than going unverified
  BOOST_TEST(!policy.usesStartTls());
}

BOOST_AUTO_TEST_CASE(dane_is_asked_by_either_side_over_the_stronger_level) {
  config::Config config = *load({smtpPolicy("d", "[outbound]\ntls = \"dane\"\n"), smtpPolicy("m", "")});
  config::DestinationPolicy strict;
  strict.domain = "strict.example";
  strict.tls = ClientTls::Encrypt;
  config::DestinationPolicy signed_domain;
  signed_domain.domain = "signed.example";
  signed_domain.tls = ClientTls::Dane;
  config.destinations.entries = {strict, signed_domain};
  delivery::ClientTlsContexts contexts;
  std::string error;
  BOOST_REQUIRE_MESSAGE(contexts.build(config, error), error);
  const delivery::MxTlsPolicies policies(config, contexts, nullptr);

  const auto plain = policies.forDestination("d", "other.example");
  BOOST_TEST(plain.dane_wanted);
  BOOST_TEST((plain.level == ClientTls::May));  // without usable TLSA records: may
  BOOST_TEST(plain.dane_context != nullptr);
  const auto raised = policies.forDestination("d", "strict.example");
  BOOST_TEST(raised.dane_wanted);
  BOOST_TEST((raised.level == ClientTls::Encrypt));
  const auto by_destination = policies.forDestination("m", "signed.example");
  BOOST_TEST(by_destination.dane_wanted);
  BOOST_TEST(!policies.forDestination("m", "other.example").dane_wanted);
}

BOOST_AUTO_TEST_CASE(a_tlsa_answer_decides_the_exchangers_policy) {
  config::Config config;
  delivery::ClientTlsContexts contexts;
  std::string error;
  BOOST_REQUIRE_MESSAGE(contexts.build(config, error), error);
  delivery::ClientTlsPolicy base = contexts.policyFor(ClientTls::Dane, "");
  base.peer_name = "mx.signed.example";
  const auto applied = [&base](dns::Status status, bool authenticated, std::vector<dns::Tlsa> records, bool& ok) {
    dns::Answer answer;
    answer.status = status;
    answer.authenticated = authenticated;
    answer.tlsa = std::move(records);
    delivery::ClientTlsPolicy policy = base;
    ok = policy.applyTlsa(answer, "signed.example");
    return policy;
  };
  bool ok = false;
  const dns::Tlsa ee{3, 1, 1, std::string(32, '\x11')};
  const dns::Tlsa pkix_ee{1, 1, 1, std::string(32, '\x22')};
  const dns::Tlsa unknown_matching{3, 1, 9, std::string(32, '\x33')};

  const auto usable = applied(dns::Status::Ok, true, {pkix_ee, ee, unknown_matching}, ok);
  BOOST_TEST(ok);
  BOOST_REQUIRE(usable.dane != nullptr);
  BOOST_TEST(usable.dane->records.size() == 1u);  // only 3 1 1 is usable
  BOOST_TEST((usable.dane->names == std::vector<std::string>{"mx.signed.example", "signed.example"}));
  BOOST_TEST(usable.context == base.dane_context);
  BOOST_TEST(usable.requiresTls());
  BOOST_TEST(!usable.plaintextFallback());
  BOOST_TEST(std::string(usable.levelName()) == "dane");

  const auto unusable = applied(dns::Status::Ok, true, {pkix_ee}, ok);
  BOOST_TEST(ok);
  BOOST_TEST(unusable.dane == nullptr);
  BOOST_TEST((unusable.level == ClientTls::Encrypt));  // TLS required, unauthenticated
  BOOST_TEST(unusable.requiresTls());

  for (const auto& [status, authenticated] : std::vector<std::pair<dns::Status, bool>>{
           {dns::Status::Ok, false}, {dns::Status::NoData, true}, {dns::Status::NxDomain, true}}) {
    const auto unchanged = applied(status, authenticated, status == dns::Status::Ok ? std::vector<dns::Tlsa>{ee}
                                                                                   : std::vector<dns::Tlsa>{}, ok);
    BOOST_TEST(ok);
    BOOST_TEST(unchanged.dane == nullptr);
    BOOST_TEST((unchanged.level == ClientTls::May));
    BOOST_TEST(unchanged.plaintextFallback());
  }
  for (const dns::Status failure : {dns::Status::ServFail, dns::Status::Timeout}) {
    applied(failure, false, {}, ok);
    BOOST_TEST(!ok);  // defer, never "no TLSA"
  }
}

BOOST_AUTO_TEST_SUITE_END()
