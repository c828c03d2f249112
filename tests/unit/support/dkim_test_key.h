// A freshly generated DKIM signing key for unit tests, with the DNS TXT record that publishes
// it (auth::generateDkimKey, auth::dkimKeyRecord). Test thread only.
#pragma once

#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>

#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/config/config.h"

namespace mxgate::test {

struct TestKey {
  config::DkimKey key;
  std::string name;    // <selector>._domainkey.<domain>
  std::string record;  // v=DKIM1; k=...; p=...
};

inline TestKey makeKey(const std::string& domain, const std::string& selector, config::DkimAlgorithm algorithm,
                       unsigned bits = auth::kDefaultRsaBits) {
  std::string error;
  const auto pair = auth::generateDkimKey(algorithm, bits, error);
  BOOST_TEST_REQUIRE(pair.has_value(), error);
  TestKey made;
  made.key.domain = domain;
  made.key.selector = selector;
  made.key.algorithm = algorithm;
  made.key.private_key = std::make_shared<const std::string>(pair->private_key_pem);
  made.name = selector + "._domainkey." + domain;
  made.record = auth::dkimKeyRecord(algorithm, pair->public_key);
  return made;
}

}  // namespace mxgate::test
