// Tests for auth/authenticator: the limiter around the credential check, on a real spool, lane
// and loop: accepted with the tenant, the same 535 for an unknown user and a wrong secret with
// a growing delay, a lock that refuses even the right secret (454 4.7.0, secret not checked),
// a full lane answering 454, and the counters.
#include <boost/test/unit_test.hpp>

#include "credential_fixture.h"
#include "mxgate/auth/authenticator.h"

using namespace mxgate;
using auth::Authenticator;
using auth::CredentialKind;
using auth::CredentialStore;

namespace {

struct Fixture : test::CredentialFixture {
  Fixture() {
    settings.auth_max_failures = 3;
    settings.auth_failure_delay = std::chrono::milliseconds(100);
    settings.auth_max_delay = std::chrono::milliseconds(250);
    limiter = std::make_unique<auth::FailureLimiter>(settings, 64);
    authenticator = std::make_unique<Authenticator>(*credentials, *limiter);
    acme_secret = add("acme", "crm").secret;
  }

  Authenticator::Result authenticate(Authenticator& with, const std::string& ip, const std::string& user,
                                     const std::string& secret) {
    return await<Authenticator::Result>([&](auto done) {
      loop.post([&with, this, ip, user, secret, done = std::move(done)] {
        with.authenticate(loop, "S1", ip, user, secret, CredentialKind::Smtp, done);
      });
    });
  }
  Authenticator::Result authenticate(const std::string& ip, const std::string& user, const std::string& secret) {
    return authenticate(*authenticator, ip, user, secret);
  }

  config::SubmissionSettings settings;
  std::unique_ptr<auth::FailureLimiter> limiter;
  std::unique_ptr<Authenticator> authenticator;
  std::string acme_secret;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(authenticator, Fixture)

BOOST_AUTO_TEST_CASE(accepts_with_the_tenant) {
  const Authenticator::Result result = authenticate("192.0.2.1", "acme.crm", acme_secret);
  BOOST_TEST((result.outcome == Authenticator::Outcome::Accepted));
  BOOST_TEST(result.tenant == "acme");
  BOOST_TEST(smtp::renderReply(result.reply) == "235 2.7.0 Authentication successful\r\n");
  BOOST_TEST(authenticator->counters().accepted.load() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_user_and_wrong_secret_look_the_same_then_lock) {
  const Authenticator::Result unknown = authenticate("192.0.2.1", "acme.nobody", acme_secret);
  const Authenticator::Result wrong = authenticate("192.0.2.1", "acme.crm", acme_secret + "x");
  for (const auto* result : {&unknown, &wrong}) {
    BOOST_TEST((result->outcome == Authenticator::Outcome::Failed));
    BOOST_TEST(smtp::renderReply(result->reply) == "535 5.7.8 Error: authentication failed\r\n");
    BOOST_TEST(result->tenant.empty());
  }
  BOOST_TEST(unknown.delay.count() == 100);
  BOOST_TEST(wrong.delay.count() == 200);
  const Authenticator::Result third = authenticate("192.0.2.1", "acme.crm", "guess");
  BOOST_TEST(third.delay.count() == 250);
  // Locked: even the right secret is refused, with 454 4.7.0.
  const Authenticator::Result locked = authenticate("192.0.2.1", "acme.crm", acme_secret);
  BOOST_TEST((locked.outcome == Authenticator::Outcome::Locked));
  BOOST_TEST(smtp::renderReply(locked.reply).starts_with("454 4.7.0 "));
  // From another address the right secret passes: the user name had two failures, one short of a lock.
  BOOST_TEST((authenticate("198.51.100.1", "acme.crm", acme_secret).outcome == Authenticator::Outcome::Accepted));
  BOOST_TEST(authenticator->counters().failed.load() == 3u);
  BOOST_TEST(authenticator->counters().locked.load() == 1u);
}

BOOST_AUTO_TEST_CASE(refusals_decided_by_the_exchange_count) {
  authenticator->refuse("S1", "192.0.2.7", "acme.crm");
  authenticator->refuse("S1", "192.0.2.7", "acme.crm");
  const Authenticator::Result third = authenticator->refuse("S1", "192.0.2.7", "acme.crm");
  BOOST_TEST(third.delay.count() == 250);
  BOOST_TEST((authenticate("192.0.2.8", "acme.crm", acme_secret).outcome == Authenticator::Outcome::Locked));
}

BOOST_AUTO_TEST_CASE(a_full_lane_is_a_temporary_failure) {
  test::FullLane full;
  CredentialStore blocked_store(*store, full.lane, node_key);
  Authenticator blocked(blocked_store, *limiter);
  const Authenticator::Result result = authenticate(blocked, "192.0.2.1", "acme.crm", acme_secret);
  BOOST_TEST((result.outcome == Authenticator::Outcome::Unavailable));
  BOOST_TEST(smtp::renderReply(result.reply).starts_with("454 4.7.0 "));
  // Not counted as a failure of the user.
  BOOST_TEST((limiter->check("192.0.2.1", "acme.crm", auth::FailureLimiter::Clock::now()) ==
              auth::FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_SUITE_END()
