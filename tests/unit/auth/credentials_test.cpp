// Tests for auth/credentials: user names, generated secrets stored only as HMAC-SHA256 under
// the node key, verification (wrong secret, unknown user, revoked, other kind, other node key)
// from a real spool on a real lane with the answer posted to a real loop, add/list/revoke with
// their audit records, and the key file.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>

#include "credential_fixture.h"
#include "mxgate/auth/credentials.h"
#include "mxgate/base/base64.h"
#include "mxgate/base/digest.h"
#include "mxgate/base/secret_file.h"

using namespace mxgate;
using auth::CredentialKind;
using auth::CredentialStore;

namespace {

struct Fixture : test::CredentialFixture {
  CredentialStore::Verification verify(std::string user, std::string secret, CredentialKind kind = CredentialKind::Smtp) {
    return await<CredentialStore::Verification>([&](auto done) {
      credentials->verify(loop, user, secret, kind, std::move(done));
    });
  }
  CredentialStore::Change revoke(std::string user) {
    return await<CredentialStore::Change>([&](auto done) { credentials->revoke(loop, user, "api", std::move(done)); });
  }
  CredentialStore::Listing list(std::string tenant) {
    return await<CredentialStore::Listing>([&](auto done) { credentials->list(loop, tenant, std::move(done)); });
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(credentials)

BOOST_AUTO_TEST_CASE(names_and_kinds) {
  BOOST_TEST(auth::credentialUsername("acme", "crm") == "acme.crm");
  BOOST_TEST(auth::isValidCredentialName("crm-2_x"));
  for (std::string_view bad : std::initializer_list<std::string_view>{"", "Crm", "a.b", "a b", "ä", std::string_view("a\0b", 3)}) {
    BOOST_TEST(!auth::isValidCredentialName(bad), bad);
  }
  BOOST_TEST(!auth::isValidCredentialName(std::string(65, 'a')));
  BOOST_TEST(auth::isValidCredentialName(std::string(64, 'a')));
  BOOST_TEST((auth::parseKind("smtp") == CredentialKind::Smtp));
  BOOST_TEST((auth::parseKind("api") == CredentialKind::Api));
  BOOST_TEST(!auth::parseKind("SMTP"));
}

// One secret in 64 would start with '-' if it were drawn from base64url freely.
BOOST_AUTO_TEST_CASE(secrets_never_start_with_a_dash) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string secret = auth::generateSecret();
    BOOST_TEST_REQUIRE(secret.size() == 43u);
    BOOST_TEST_REQUIRE(secret.front() != '-', secret);
    BOOST_TEST_REQUIRE(base64::decode(secret, base64::Alphabet::Url)->size() == 32u);
    seen.insert(secret);
  }
  BOOST_TEST(seen.size() == 2000u);
}

BOOST_FIXTURE_TEST_CASE(added_secret_verifies_and_is_stored_only_as_its_hmac, Fixture) {
  const CredentialStore::Change added = add("acme", "crm");
  BOOST_TEST_REQUIRE((added.status == CredentialStore::Status::Ok));
  BOOST_TEST(added.record.username == "acme.crm");
  BOOST_TEST(added.record.hash.empty());
  BOOST_REQUIRE(base64::decode(added.secret, base64::Alphabet::Url).has_value());
  BOOST_TEST(base64::decode(added.secret, base64::Alphabet::Url)->size() == 32u);
  const CredentialStore::Verification ok = verify("acme.crm", added.secret);
  BOOST_TEST((ok.verdict == CredentialStore::Verdict::Accepted));
  BOOST_TEST(ok.tenant == "acme");

  spool::CredentialRecord stored;
  std::string error;
  BOOST_REQUIRE((store->readCredential("acme.crm", stored, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST(stored.hash == base::hmacSha256(std::string(64, 'k'), "acme.crm" + std::string(1, '\0') + added.secret));
  BOOST_TEST(stored.hash.find(added.secret) == std::string::npos);
  BOOST_TEST(stored.kind == "smtp");
  BOOST_TEST(stored.created_us > 0u);

  // Two credentials never share a secret.
  BOOST_TEST(add("acme", "desk").secret != added.secret);
}

BOOST_FIXTURE_TEST_CASE(refusals, Fixture) {
  const std::string secret = add("acme", "crm").secret;
  const std::string api_secret = add("acme", "app", CredentialKind::Api).secret;
  auto refused = [](const CredentialStore::Verification& v) {
    return v.verdict == CredentialStore::Verdict::Refused && v.tenant.empty();
  };
  BOOST_TEST(refused(verify("acme.crm", secret + "x")));
  BOOST_TEST(refused(verify("acme.crm", "")));
  BOOST_TEST(refused(verify("acme.nobody", secret)));
  BOOST_TEST(refused(verify("ACME.CRM", secret)));
  BOOST_TEST(refused(verify("acme.crm", secret, CredentialKind::Api)));  // an SMTP credential is not an API key
  BOOST_TEST(refused(verify("acme.app", api_secret)));                  // nor the other way round
  BOOST_TEST((verify("acme.app", api_secret, CredentialKind::Api).verdict == CredentialStore::Verdict::Accepted));
  // The hash belongs to its user name: copied onto another record it does not verify there.
  spool::CredentialRecord original;
  std::string error;
  BOOST_REQUIRE((store->readCredential("acme.crm", original, error) == spool::Store::ReadStatus::Ok));
  spool::CredentialRecord copy = original;
  copy.username = "acme.copy";
  copy.name = "copy";
  spool::Batch batch;
  batch.putCredential(copy);
  std::promise<bool> written;
  store->submit(std::move(batch), true, [&](const spool::CommitStatus& s) { written.set_value(s.ok); });
  BOOST_REQUIRE(written.get_future().get());
  BOOST_TEST(refused(verify("acme.copy", secret)));
  // Another node key: nothing verifies.
  CredentialStore other(*store, lane, std::string(64, 'x'));
  BOOST_TEST((other.verifyNow("acme.crm", secret, CredentialKind::Smtp).verdict == CredentialStore::Verdict::Refused));
}

BOOST_FIXTURE_TEST_CASE(revoke_and_replace, Fixture) {
  const std::string secret = add("acme", "crm").secret;
  BOOST_TEST((add("acme", "crm").status == CredentialStore::Status::Exists));
  BOOST_TEST((verify("acme.crm", secret).verdict == CredentialStore::Verdict::Accepted));  // still the first one
  const CredentialStore::Change revoked = revoke("acme.crm");
  BOOST_TEST((revoked.status == CredentialStore::Status::Ok));
  BOOST_TEST(revoked.record.revoked_us > 0u);
  BOOST_TEST((verify("acme.crm", secret).verdict == CredentialStore::Verdict::Refused));
  BOOST_TEST((revoke("acme.crm").status == CredentialStore::Status::AlreadyRevoked));
  BOOST_TEST((revoke("acme.nobody").status == CredentialStore::Status::NotFound));
  // A revoked name may be issued again, with a new secret; the old one stays dead.
  const CredentialStore::Change again = add("acme", "crm");
  BOOST_TEST((again.status == CredentialStore::Status::Ok));
  BOOST_TEST((verify("acme.crm", again.secret).verdict == CredentialStore::Verdict::Accepted));
  BOOST_TEST((verify("acme.crm", secret).verdict == CredentialStore::Verdict::Refused));

  std::vector<std::string> actions;
  store->scanAudit(0, false, [&](std::string_view, spool::AuditRecord& record) {
    actions.push_back(record.action + " " + record.actor + " " + record.tenant + " " + record.detail);
    return true;
  });
  BOOST_TEST((actions == std::vector<std::string>{"credential_add cli:test acme username=acme.crm kind=smtp",
                                                  "credential_revoke api acme username=acme.crm kind=smtp",
                                                  "credential_add cli:test acme username=acme.crm kind=smtp"}));
}

BOOST_FIXTURE_TEST_CASE(listing_never_carries_hashes, Fixture) {
  add("acme", "crm");
  add("beta", "app", CredentialKind::Api);
  revoke("acme.crm");
  const CredentialStore::Listing all = list("");
  BOOST_TEST((all.status == CredentialStore::Status::Ok));
  BOOST_TEST_REQUIRE(all.records.size() == 2u);
  BOOST_TEST(all.records[0].username == "acme.crm");
  BOOST_TEST(all.records[0].revoked_us > 0u);
  BOOST_TEST(all.records[1].kind == "api");
  for (const auto& record : all.records) {
    BOOST_TEST(record.hash.empty());
  }
  BOOST_TEST(list("beta").records.size() == 1u);
  BOOST_TEST(list("gamma").records.empty());
}

BOOST_FIXTURE_TEST_CASE(a_full_lane_answers_unavailable, Fixture) {
  test::FullLane full;
  CredentialStore blocked(*store, full.lane, node_key);
  const CredentialStore::Verification answer = await<CredentialStore::Verification>(
      [&](auto done) { blocked.verify(loop, "acme.crm", "x", CredentialKind::Smtp, std::move(done)); });
  BOOST_TEST((answer.verdict == CredentialStore::Verdict::Unavailable));
}

BOOST_AUTO_TEST_CASE(key_file_is_created_private_and_kept) {
  char pattern[] = "/tmp/mxgate-key-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string path = dir + "/sub/credential.key";
  std::string first;
  std::string error;
  BOOST_REQUIRE_MESSAGE(base::ensureSecretFile(path, "credential key", first, error), error);
  BOOST_TEST(first.size() == 64u);
  struct stat info {};
  BOOST_REQUIRE(::stat(path.c_str(), &info) == 0);
  BOOST_TEST((info.st_mode & 0777) == 0600u);
  std::string second;
  BOOST_REQUIRE(base::ensureSecretFile(path, "credential key", second, error));
  BOOST_TEST(second == first);
  std::filesystem::resize_file(path, 10);
  BOOST_TEST(!base::ensureSecretFile(path, "credential key", second, error));
  BOOST_TEST(error.find("credential key file") != std::string::npos);
  config::Config config;
  config.spool.path = "/var/spool/mxgate";
  BOOST_TEST(auth::credentialKeyPath(config) == "/var/spool/mxgate/credential.key");
  config.submission.credential_key_file = "/etc/mxgate/credential.key";
  BOOST_TEST(auth::credentialKeyPath(config) == "/etc/mxgate/credential.key");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
