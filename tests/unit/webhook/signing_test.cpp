// Standard Webhooks signatures: the specification's own example, verification by an
// independent HMAC computation, rotation with several secrets, secret validation.
#include <boost/test/unit_test.hpp>

#include <openssl/hmac.h>

#include "mxgate/base/base64.h"
#include "mxgate/config/config.h"
#include "mxgate/webhook/signing.h"

using namespace mxgate;

BOOST_AUTO_TEST_SUITE(webhook_signing)

// The example from the Standard Webhooks specification (spec/standard-webhooks.md, "Signature
// scheme"): secret, id, timestamp and body give this exact signature.
BOOST_AUTO_TEST_CASE(specification_example) {
  const auto key = config::decodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  BOOST_REQUIRE(key.has_value());
  const std::string body = R"({"test": 2432232314})";
  BOOST_TEST(webhook::signatureHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, {*key}) ==
             "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

BOOST_AUTO_TEST_CASE(one_signature_per_secret_during_rotation) {
  const std::string old_key(32, 'a');
  const std::string new_key(32, 'b');
  const std::string header = webhook::signatureHeader("msg_1", 1700000000, "{}", {new_key, old_key});
  const size_t space = header.find(' ');
  BOOST_REQUIRE(space != std::string::npos);
  auto expected = [](const std::string& key) {
    const std::string signed_text = "msg_1.1700000000.{}";
    unsigned char mac[32];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &length);
    return "v1," + base64::encode(std::string_view(reinterpret_cast<char*>(mac), length));
  };
  BOOST_TEST(header.substr(0, space) == expected(new_key));
  BOOST_TEST(header.substr(space + 1) == expected(old_key));
}

BOOST_AUTO_TEST_CASE(secrets_are_validated) {
  BOOST_TEST(config::decodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").has_value());
  BOOST_TEST(!config::decodeWebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").has_value());  // no prefix
  BOOST_TEST(!config::decodeWebhookSecret("whsec_c2hvcnQ=").has_value());                    // 5 bytes
  BOOST_TEST(!config::decodeWebhookSecret("whsec_not base64!").has_value());
  BOOST_TEST(!config::decodeWebhookSecret("whsec_" + base64::encode(std::string(65, 'x'))).has_value());
  BOOST_TEST(webhook::messageWebhookId("0001ABC", "acme") == "msg_0001ABC_acme");
}

BOOST_AUTO_TEST_SUITE_END()
