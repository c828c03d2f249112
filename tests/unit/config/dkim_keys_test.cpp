// Unit tests for the [[dkim.keys]] tables of tenant policies: keys load with their PEM, the
// active key of each domain and algorithm is chosen as documented, and every validation error
// (missing keys, foreign domain, bad selector or algorithm, key file missing, not a file, open
// to group or others, not PEM, encrypted, wrong key type, RSA size, a third key, a reused
// selector, a wrongly shaped table) names file, line and key.
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "temp_dir.h"

using namespace mxgate::config;
namespace fs = std::filesystem;
using Lines = std::vector<std::string>;

namespace {

// A directory of key files: write() sets each file's mode.
class KeyDir {
 public:
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    dir_.write(name, content);
    const std::string file = path(name);
    BOOST_TEST_REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

 private:
  mxgate::config::test::TempDir dir_;
};

// A PEM private key: "ED25519" or "RSA" of bits; encrypted with a passphrase when asked.
std::string pemKey(const char* type, size_t bits = 0, bool encrypted = false) {
  EVP_PKEY* key = bits == 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, type) : EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits);
  BOOST_TEST_REQUIRE(key != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  char passphrase[] = "secret";
  BOOST_TEST_REQUIRE(PEM_write_bio_PrivateKey(bio, key, encrypted ? EVP_aes_128_cbc() : nullptr,
                                              encrypted ? reinterpret_cast<unsigned char*>(passphrase) : nullptr,
                                              encrypted ? 6 : 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

const std::string& rsaPem() {
  static const std::string pem = pemKey("RSA", 1024);
  return pem;
}
const std::string& ed25519Pem() {
  static const std::string pem = pemKey("ED25519");
  return pem;
}

const std::string kHead = R"(tenant = "a"
domains = ["a.test", "b.test"]
[delivery]
target = "file"
path = "out"
)";  // 5 lines: the first [[dkim.keys]] below is line 6

// One [[dkim.keys]] table (4 or 5 lines).
std::string table(const std::string& domain, const std::string& selector, const std::string& algorithm,
                  const std::string& key_file, const std::string& active = "") {
  std::string text = "[[dkim.keys]]\ndomain = \"" + domain + "\"\nselector = \"" + selector + "\"\nalgorithm = \"" +
                     algorithm + "\"\nkey_file = \"" + key_file + "\"\n";
  if (!active.empty()) {
    text += "active = " + active + "\n";
  }
  return text;
}

LoadResult loadPolicy(const std::string& tables) { return loadFromText("node.toml", "", {{"a.toml", kHead + tables}}); }

Lines errorsOf(const std::string& tables) {
  Lines lines;
  for (const ConfigError& error : loadPolicy(tables).errors) {
    lines.push_back(error.str());
  }
  return lines;
}

std::vector<bool> activeFlags(const LoadResult& result) {
  std::vector<bool> flags;
  BOOST_TEST_REQUIRE(result.config != nullptr, (result.errors.empty() ? "" : result.errors.front().str()));
  for (const DkimKey& key : result.config->tenants.at(0).dkim.keys) {
    flags.push_back(key.active);
  }
  return flags;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_dkim_keys)

BOOST_AUTO_TEST_CASE(keys_load_with_their_pem) {
  KeyDir dir;
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  const std::string ed = dir.write("ed.pem", ed25519Pem(), 0400);
  const LoadResult result = loadPolicy(table("A.Test", "s2026", "rsa-sha256", rsa) +
                                       table("a.test", "e2026", "ed25519-sha256", ed) +
                                       "[[dkim.keys]]\ndomain = \"b.test\"\nselector = \"2026\"\nkey_file = \"" + rsa +
                                       "\"\n");
  BOOST_TEST_REQUIRE(result.config != nullptr, (result.errors.empty() ? "" : result.errors.front().str()));
  const DkimPolicy& dkim = result.config->tenants.at(0).dkim;
  BOOST_TEST_REQUIRE(dkim.keys.size() == 3u);
  BOOST_TEST(dkim.keys[0].domain == "a.test");  // lower-cased
  BOOST_TEST(dkim.keys[0].selector == "s2026");
  BOOST_TEST((dkim.keys[0].algorithm == DkimAlgorithm::RsaSha256));
  BOOST_TEST(dkim.keys[0].key_file == rsa);
  BOOST_TEST(*dkim.keys[0].private_key == rsaPem());
  BOOST_TEST((dkim.keys[1].algorithm == DkimAlgorithm::Ed25519Sha256));
  BOOST_TEST(*dkim.keys[1].private_key == ed25519Pem());
  BOOST_TEST((dkim.keys[2].algorithm == DkimAlgorithm::RsaSha256));  // the default algorithm
  BOOST_TEST(dkim.keys[2].selector == "2026");                        // all-numeric selectors are fine
  BOOST_TEST((activeFlags(result) == std::vector<bool>{true, true, true}));

  const std::vector<DkimKey> a = dkim.signingKeys("A.TEST");
  BOOST_TEST_REQUIRE(a.size() == 2u);
  BOOST_TEST(a[0].selector == "s2026");  // RSA first
  BOOST_TEST(a[1].selector == "e2026");
  BOOST_TEST(dkim.signingKeys("b.test").size() == 1u);
  BOOST_TEST(dkim.signingKeys("c.test").empty());
  BOOST_TEST(dkim.signingKeys("sub.a.test").empty());  // exact domains only
}

BOOST_AUTO_TEST_CASE(which_of_two_selectors_signs) {
  KeyDir dir;
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  const std::string ed = dir.write("ed.pem", ed25519Pem());
  auto pair = [&](const std::string& first, const std::string& second) {
    return activeFlags(loadPolicy(table("a.test", "old", "rsa-sha256", rsa, first) +
                                  table("a.test", "new", "rsa-sha256", rsa, second) +
                                  table("a.test", "ed", "ed25519-sha256", ed)));
  };
  BOOST_TEST((pair("", "") == std::vector<bool>{true, false, true}));         // neither says: the first
  BOOST_TEST((pair("", "true") == std::vector<bool>{false, true, true}));     // the new one takes over
  BOOST_TEST((pair("false", "") == std::vector<bool>{false, true, true}));    // the old one steps down
  BOOST_TEST((pair("true", "false") == std::vector<bool>{true, false, true}));
  BOOST_TEST((pair("false", "false") == std::vector<bool>{false, false, true}));  // no RSA signature
  BOOST_TEST((pair("", "false") == std::vector<bool>{true, false, true}));
  const LoadResult swapped = loadPolicy(table("a.test", "old", "rsa-sha256", rsa) +
                                        table("a.test", "new", "rsa-sha256", rsa, "true"));
  BOOST_TEST_REQUIRE(swapped.config != nullptr);
  const auto keys = swapped.config->tenants.at(0).dkim.signingKeys("a.test");
  BOOST_TEST_REQUIRE(keys.size() == 1u);
  BOOST_TEST(keys[0].selector == "new");
}

BOOST_AUTO_TEST_CASE(missing_and_invalid_values) {
  KeyDir dir;
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  BOOST_TEST(errorsOf("[[dkim.keys]]\nalgorithm = \"rsa-sha256\"\n") ==
                 (Lines{"a.toml:6: dkim.keys.domain: missing required key",
                        "a.toml:6: dkim.keys.key_file: missing required key",
                        "a.toml:6: dkim.keys.selector: missing required key"}),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("other.test", "s1", "rsa-sha256", rsa)) ==
                 Lines{"a.toml:7: dkim.keys.domain: \"other.test\" is not one of the tenant's domains"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("a.test", "s_1", "rsa-sha256", rsa)) ==
                 Lines{"a.toml:8: dkim.keys.selector: invalid value \"s_1\": invalid character '_' (only letters, "
                       "digits and '-')"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha1", rsa)) ==
                 Lines{"a.toml:9: dkim.keys.algorithm: invalid value \"rsa-sha1\": must be one of \"rsa-sha256\", "
                       "\"ed25519-sha256\""},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa, "\"yes\"")) ==
                 Lines{"a.toml:11: dkim.keys.active: wrong type: expected a boolean (true or false), got a string"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(key_file_errors) {
  KeyDir dir;
  const std::string missing = dir.path("missing.pem");
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", missing)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: cannot read \"" + missing + "\": No such file or directory"},
             boost::test_tools::per_element());
  fs::create_directory(dir.path("directory.pem"));
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", dir.path("directory.pem"))) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + dir.path("directory.pem") + "\" is not a regular file"},
             boost::test_tools::per_element());
  for (const mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
    const std::string open = dir.write("open.pem", rsaPem(), mode);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", open)) ==
                   Lines{"a.toml:10: dkim.keys.key_file: \"" + open + "\" has mode " + octal +
                         ": a private key must not be readable or writable by group or others (chmod 600)"},
               boost::test_tools::per_element());
  }
  const std::string text = dir.write("text.pem", "not a key\n");
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", text)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + text +
                       "\" is not a PEM private key (keys with a passphrase are not supported)"},
             boost::test_tools::per_element());
  const std::string encrypted = dir.write("encrypted.pem", pemKey("ED25519", 0, true));
  BOOST_TEST(errorsOf(table("a.test", "s1", "ed25519-sha256", encrypted)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + encrypted +
                       "\" is not a PEM private key (keys with a passphrase are not supported)"},
             boost::test_tools::per_element());
  const std::string ed = dir.write("ed.pem", ed25519Pem());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", ed)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + ed +
                       "\" holds an Ed25519 key, not one for algorithm \"rsa-sha256\""},
             boost::test_tools::per_element());
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  BOOST_TEST(errorsOf(table("a.test", "s1", "ed25519-sha256", rsa)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + rsa +
                       "\" holds an RSA key, not one for algorithm \"ed25519-sha256\""},
             boost::test_tools::per_element());
  const std::string small = dir.write("small.pem", pemKey("RSA", 512));
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", small)) ==
                 Lines{"a.toml:10: dkim.keys.key_file: \"" + small +
                       "\" is a 512-bit RSA key: DKIM keys must have 1024 to 4096 bits (RFC 8301)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rules_across_keys) {
  KeyDir dir;
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  const std::string ed = dir.write("ed.pem", ed25519Pem());
  // Tables start on lines 6, 11, 16, ...: domain on +1, selector on +2, active on +5.
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa) + table("a.test", "s2", "rsa-sha256", rsa) +
                      table("a.test", "s3", "rsa-sha256", rsa)) ==
                 Lines{"a.toml:17: dkim.keys.domain: a third key of one algorithm for \"a.test\": at most two (the "
                       "signing key and its successor in a rotation)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa) + table("a.test", "S1", "ed25519-sha256", ed)) ==
                 Lines{"a.toml:13: dkim.keys.selector: selector \"S1\" is already used for \"a.test\" on line 8"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa, "true") +
                      table("a.test", "s2", "rsa-sha256", rsa, "true")) ==
                 Lines{"a.toml:17: dkim.keys.active: two active keys of one algorithm for \"a.test\" (also line 11): "
                       "set active = false on one"},
             boost::test_tools::per_element());
  // The same selector on two domains and two keys per algorithm on each domain are fine.
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa) + table("b.test", "s1", "rsa-sha256", rsa) +
                      table("a.test", "s2", "rsa-sha256", rsa) + table("b.test", "s2", "rsa-sha256", rsa) +
                      table("a.test", "e1", "ed25519-sha256", ed) + table("a.test", "e2", "ed25519-sha256", ed))
                 .empty());
}

BOOST_AUTO_TEST_CASE(wrongly_shaped_tables) {
  BOOST_TEST(errorsOf("[dkim.keys]\ndomain = \"a.test\"\n") ==
                 Lines{"a.toml:6: dkim.keys: wrong type: expected an array of tables ([[dkim.keys]]), got a table"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[dkim]\nkeys = [\"a.test\"]\n") ==
                 Lines{"a.toml:7: dkim.keys: wrong type: expected an array of tables ([[dkim.keys]]), got a string"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[dkim]\nkey = 1\n") ==
                 Lines{"a.toml:7: dkim.key: unknown key (did you mean \"dkim.keys\"?)"},
             boost::test_tools::per_element());
  KeyDir dir;
  const std::string rsa = dir.write("rsa.pem", rsaPem());
  BOOST_TEST(errorsOf(table("a.test", "s1", "rsa-sha256", rsa) + "selecter = \"s2\"\n") ==
                 Lines{"a.toml:11: dkim.keys.selecter: unknown key (did you mean \"dkim.keys.selector\"?)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
