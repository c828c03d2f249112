// Signed link tests: the token layout (RFC 4648 §5 base64url, truncated HMAC-SHA256 per
// RFC 2104), round trips, tampering, key rotation, malformed paths, the outbound context (tags
// and metadata) and the one-click unsubscribe token.
#include <boost/test/unit_test.hpp>

#include <string>

#include "links_test_util.h"
#include "mxgate/base/base64.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

using test::currentKey;
using test::oldKey;

KeyRing ring() { return KeyRing{{currentKey(), oldKey()}}; }

// The path after "https://<host>/<kind>/".
std::string pathOf(const std::string& link, char kind) {
  const std::string prefix = "https://" + std::string(test::kHost) + "/" + kind + "/";
  BOOST_TEST_REQUIRE(link.rfind(prefix, 0) == 0u, link);
  return link.substr(prefix.size());
}

std::string b64(std::string_view bytes) { return base64::encode(bytes, base64::Alphabet::Url); }

BOOST_AUTO_TEST_SUITE(links_signing)

BOOST_AUTO_TEST_CASE(layout_and_round_trip) {
  const LinkTarget target{"https://example.com/a?b=c&d=é", "0Q1W2E3R4T", 7, "acme", {}};
  const std::string link = signLink('l', test::kHost, currentKey(), target);
  const std::string payload = b64("0Q1W2E3R4T\nacme\n7\nhttps://example.com/a?b=c&d=é");
  const std::string prefix = "https://links.example.test/l/k2025/" + payload + "/";
  BOOST_TEST_REQUIRE(link.rfind(prefix, 0) == 0u, link);
  const std::string mac = link.substr(prefix.size());
  BOOST_TEST(mac.size() == 22u);  // 16 bytes, unpadded
  BOOST_TEST(mac.find_first_of("=+/") == std::string::npos);

  const Verified verified = verifyLink('l', pathOf(link, 'l'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target == target);

  // The kind is covered by the MAC: a click link is no open pixel.
  BOOST_TEST(verifyLink('o', pathOf(link, 'l'), ring()).status == VerifyStatus::BadMac);
}

BOOST_AUTO_TEST_CASE(known_mac_value) {
  // HMAC-SHA256 with key "0123456789abcdef0123456789ABCDEF-current" over "l/k2025/" + payload,
  // first 16 bytes; computed independently with Python's hmac module.
  const LinkTarget target{"https://example.com/", "Q", 1, "acme", {}};
  const std::string link = signLink('l', "h", currentKey(), target);
  BOOST_TEST(link == "https://h/l/k2025/UQphY21lCjEKaHR0cHM6Ly9leGFtcGxlLmNvbS8/kwFVuxlfFdVeq6h5MM04wQ");
}

BOOST_AUTO_TEST_CASE(open_pixel) {
  const LinkTarget pixel{"", "0Q1W2E3R4T", 0, "acme", {}};
  const std::string link = signLink('o', test::kHost, currentKey(), pixel);
  BOOST_TEST(link.rfind("https://links.example.test/o/k2025/" + b64("0Q1W2E3R4T\nacme\n0\n") + "/", 0) == 0u);
  const Verified verified = verifyLink('o', pathOf(link, 'o'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target == pixel);
}

BOOST_AUTO_TEST_CASE(tampered_payload_is_bad_mac_with_target) {
  const std::string link = signLink('l', test::kHost, currentKey(), {"https://good.example/", "Q1", 3, "acme", {}});
  std::string path = pathOf(link, 'l');
  const size_t first = path.find('/');
  const size_t second = path.find('/', first + 1);
  path.replace(first + 1, second - first - 1, b64("Q1\nacme\n3\nhttps://evil.example/"));
  const Verified verified = verifyLink('l', path, ring());
  BOOST_TEST(verified.status == VerifyStatus::BadMac);
  BOOST_TEST(verified.target == (LinkTarget{"https://evil.example/", "Q1", 3, "acme", {}}));

  // A flipped MAC character.
  std::string flipped = pathOf(link, 'l');
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  BOOST_TEST(verifyLink('l', flipped, ring()).status == VerifyStatus::BadMac);
  // A MAC of the wrong length.
  const std::string short_mac = pathOf(link, 'l').substr(0, pathOf(link, 'l').rfind('/') + 1) + b64("0123456789");
  BOOST_TEST(verifyLink('l', short_mac, ring()).status == VerifyStatus::BadMac);
}

BOOST_AUTO_TEST_CASE(unknown_key_keeps_target) {
  const Key other{"k1999", std::string(40, 'x')};
  const LinkTarget target{"https://example.com/x", "Q9", 2, "acme", {}};
  const std::string link = signLink('l', test::kHost, other, target);
  const Verified verified = verifyLink('l', pathOf(link, 'l'), ring());
  BOOST_TEST(verified.status == VerifyStatus::UnknownKey);
  BOOST_TEST(verified.target == target);
  // The same key id with a different secret is a bad MAC, not an unknown key.
  const Key impostor{"k2025", std::string(40, 'y')};
  BOOST_TEST(verifyLink('l', pathOf(signLink('l', test::kHost, impostor, target), 'l'), ring()).status ==
             VerifyStatus::BadMac);
}

BOOST_AUTO_TEST_CASE(rotated_key_still_verifies) {
  const LinkTarget target{"http://example.org/old", "Q0", 12, "acme", {}};
  const std::string link = signLink('l', test::kHost, oldKey(), target);
  BOOST_TEST(pathOf(link, 'l').rfind("k2024/", 0) == 0u);
  const Verified verified = verifyLink('l', pathOf(link, 'l'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target == target);
  BOOST_TEST(verifyLink('l', pathOf(link, 'l'), KeyRing{{currentKey()}}).status == VerifyStatus::UnknownKey);
  BOOST_TEST(ring().find("k2024") != nullptr);
  BOOST_TEST(ring().find("k2026") == nullptr);
}

BOOST_AUTO_TEST_CASE(malformed_paths) {
  const std::string good = pathOf(signLink('l', test::kHost, currentKey(), {"https://e.example/", "Q", 1, "acme", {}}), 'l');
  const size_t first = good.find('/');
  const size_t second = good.find('/', first + 1);
  const std::string key = good.substr(0, first);
  const std::string payload = good.substr(first + 1, second - first - 1);
  const std::string mac = good.substr(second + 1);
  BOOST_TEST_REQUIRE(verifyLink('l', good, ring()).status == VerifyStatus::Ok);

  const std::vector<std::string> malformed = {
      "",
      key,
      key + "/" + payload,
      key + "/" + payload + "/",
      "/" + payload + "/" + mac,
      key + "//" + mac,
      good + "/",
      good + "/extra",
      key + "/" + payload + "=/" + mac,        // padding
      key + "/" + payload + "/" + mac + "==",  // padding
      key + "/" + payload + "+/" + mac,        // standard alphabet
      key + "/" + payload + "/" + mac.substr(1),  // impossible length
      key + "/pay load/" + mac,
      "k.2025/" + payload + "/" + mac,            // key id charset
      std::string(17, 'k') + "/" + payload + "/" + mac,  // key id length
      key + "/" + b64("no newline") + "/" + mac,
      key + "/" + b64("Q\nhttps://x/") + "/" + mac,          // one newline only
      key + "/" + b64("Q\nt\nhttps://x/") + "/" + mac,       // no index
      key + "/" + b64("Q\nt\n\nhttps://x/") + "/" + mac,        // empty index
      key + "/" + b64("Q\nt\n-1\nhttps://x/") + "/" + mac,      // sign
      key + "/" + b64("Q\nt\n+1\nhttps://x/") + "/" + mac,
      key + "/" + b64("Q\nt\n4294967296\nhttps://x/") + "/" + mac,  // beyond uint32
      key + "/" + b64("Q\nt\n1 \nhttps://x/") + "/" + mac,
      key + "/" + b64("Q\nt\n1\n" + std::string(8193, 'u')) + "/" + mac,  // huge url
  };
  for (const std::string& path : malformed) {
    const Verified verified = verifyLink('l', path, ring());
    BOOST_TEST(verified.status == VerifyStatus::Malformed, path);
    BOOST_TEST(verified.target == LinkTarget{}, path);
  }
  // The largest index and url still parse (and fail only on the MAC).
  const Verified largest = verifyLink('l', key + "/" + b64("Q\nt\n4294967295\n" + std::string(8192, 'u')) + "/" + mac, ring());
  BOOST_TEST(largest.status == VerifyStatus::BadMac);
  BOOST_TEST(largest.target.index == 4294967295u);
  BOOST_TEST(largest.target.url.size() == 8192u);
}

BOOST_AUTO_TEST_CASE(outbound_context_round_trip) {
  // An outbound message's links carry its tags and metadata after a NUL byte, as JSON.
  const Context context{true, {"welcome", "caf\u00e9 \"q\""}, {{"user", "42"}, {"plan", "pro\nmax"}}};
  const LinkTarget target{"https://example.com/", "Q1", 3, "acme", context};
  const std::string link = signLink('l', test::kHost, currentKey(), target);
  const std::string payload = pathOf(link, 'l').substr(6, pathOf(link, 'l').rfind('/') - 6);
  const auto decoded = base64::decode(payload, base64::Alphabet::Url);
  BOOST_TEST_REQUIRE(decoded.has_value());
  BOOST_TEST(*decoded == std::string("Q1\nacme\n3\nhttps://example.com/") + '\0' +
                             R"([["welcome","café \"q\""],[["user","42"],["plan","pro\nmax"]]])");
  const Verified verified = verifyLink('l', pathOf(link, 'l'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target == target);

  // Outbound without tags still says so (its events carry empty tags and metadata).
  const LinkTarget bare{"https://example.com/", "Q1", 3, "acme", Context{true, {}, {}}};
  const Verified plain = verifyLink('l', pathOf(signLink('l', test::kHost, currentKey(), bare), 'l'), ring());
  BOOST_TEST(plain.target.context.outbound);
  BOOST_TEST(plain.target == bare);
}

BOOST_AUTO_TEST_CASE(context_too_large_is_left_out) {
  const Context large{true, {std::string(kMaxContextBytes, 't')}, {}};
  BOOST_TEST(!contextFits(large));
  BOOST_TEST(contextFits(Context{true, {std::string(100, 't')}, {{"k", "v"}}}));
  const LinkTarget target{"", "Q1", 0, "acme", large};
  const Verified verified = verifyLink('o', pathOf(signLink('o', test::kHost, currentKey(), target), 'o'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target.context == (Context{true, {}, {}}));
}

BOOST_AUTO_TEST_CASE(malformed_contexts) {
  const std::string key = std::string(currentKey().id);
  for (const std::string& context : {std::string("not json"), std::string("[]"), std::string(R"([["a"]])"),
                                    std::string(R"([[1],[]])"), std::string(R"([[],[["k"]]])"),
                                    std::string(R"([[],[["k",2]]])"), std::string(R"({"t":[],"m":[]})"),
                                    std::string(R"([[],[],[]])"), "[[\"" + std::string(kMaxContextBytes, 'x') + "\"],[]]"}) {
    const std::string path = key + "/" + b64(std::string("Q\nt\n1\nhttps://x/") + '\0' + context) + "/AAAAAAAAAAAAAAAAAAAAAA";
    const Verified verified = verifyLink('l', path, ring());
    BOOST_TEST(verified.status == VerifyStatus::Malformed, context);
    BOOST_TEST(verified.target == LinkTarget{}, context);
  }
}

BOOST_AUTO_TEST_CASE(unsubscribe_token) {
  // The RFC 8058 URL: kind 'u', the recipient in the url field; no other kind verifies it.
  const LinkTarget target{"someone@example.org", "Q7", 0, "acme", Context{true, {"news"}, {}}};
  const std::string link = signLink('u', test::kHost, currentKey(), target);
  const Verified verified = verifyLink('u', pathOf(link, 'u'), ring());
  BOOST_TEST(verified.status == VerifyStatus::Ok);
  BOOST_TEST(verified.target == target);
  BOOST_TEST(verifyLink('l', pathOf(link, 'u'), ring()).status == VerifyStatus::BadMac);
  std::string tampered = pathOf(link, 'u');
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  BOOST_TEST(verifyLink('u', tampered, ring()).status == VerifyStatus::BadMac);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::links
