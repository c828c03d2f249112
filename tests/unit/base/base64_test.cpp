// Base64 and base64url codecs against the RFC 4648 §10 test vectors and malformed input.
#include <boost/test/unit_test.hpp>

#include "mxgate/base/base64.h"

using mxgate::base64::Alphabet;
using mxgate::base64::decode;
using mxgate::base64::encode;

BOOST_AUTO_TEST_SUITE(base64_codec)

BOOST_AUTO_TEST_CASE(rfc4648_vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, coded] : vectors) {
    BOOST_TEST(encode(plain) == coded);
    BOOST_TEST(decode(coded).value_or("<none>") == plain);
  }
}

BOOST_AUTO_TEST_CASE(url_alphabet_without_padding) {
  const std::string bytes("\xfb\xff\xbf", 3);
  BOOST_TEST(encode(bytes) == "+/+/");
  BOOST_TEST(encode(bytes, Alphabet::Url) == "-_-_");
  BOOST_TEST(encode("f", Alphabet::Url) == "Zg");
  BOOST_TEST(decode("Zg", Alphabet::Url).value_or("<none>") == "f");
  BOOST_TEST(decode("Zg==", Alphabet::Url).value_or("<none>") == "f");
  BOOST_TEST(decode("-_-_", Alphabet::Url).value_or("<none>") == bytes);
  BOOST_TEST(!decode("-_-_").has_value());
  BOOST_TEST(!decode("+/+/", Alphabet::Url).has_value());
}

BOOST_AUTO_TEST_CASE(malformed_input_is_refused) {
  BOOST_TEST(!decode("Z").has_value());
  BOOST_TEST(!decode("Zh==").has_value());  // non-zero trailing bits
  BOOST_TEST(!decode("Zm 9v").has_value());
  BOOST_TEST(!decode("Zm9v\n").has_value());
  BOOST_TEST(!decode("Z===").has_value());
  BOOST_TEST(!decode("=Zm9").has_value());
}

BOOST_AUTO_TEST_CASE(binary_round_trip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes += static_cast<char>(i);
  }
  for (size_t length = 0; length <= bytes.size(); length += 37) {
    const std::string part = bytes.substr(0, length);
    BOOST_TEST(decode(encode(part)).value_or("<none>") == part);
    BOOST_TEST(decode(encode(part, Alphabet::Url), Alphabet::Url).value_or("<none>") == part);
  }
}

BOOST_AUTO_TEST_SUITE_END()
