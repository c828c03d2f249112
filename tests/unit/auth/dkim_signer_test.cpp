// DKIM signing tests (RFC 6376 §5, RFC 8463 dual signing, RFC 8058 one-click fields): RSA,
// Ed25519 and both at once, each signature verified by our own verifier (dkim.cpp, keys served
// through its KeyLookup) and by dkimpy (dkimpy_verify.py); the signed and over-signed fields in
// h=; folded fields and a body without a final CRLF; streaming in random pieces; key choice
// (active selector, no key, no From); and the key records of dkim_keygen.h.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>

#include "auth_test_util.h"
#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/auth/dkim_signer.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"
#include "support/dkim_test_key.h"
#include "tag_list.h"

namespace mxgate::auth {
namespace {

using config::DkimAlgorithm;
using test::FakeDns;

using mxgate::test::TestKey;
using mxgate::test::makeKey;

// Generating RSA keys takes a moment: one set for the whole suite.
const TestKey& rsaKey() {
  static const TestKey key = makeKey("example.com", "rsa2026", DkimAlgorithm::RsaSha256);
  return key;
}
const TestKey& ed25519Key() {
  static const TestKey key = makeKey("example.com", "ed2026", DkimAlgorithm::Ed25519Sha256);
  return key;
}

config::DkimPolicy policyOf(const std::vector<const TestKey*>& keys) {
  config::DkimPolicy policy;
  for (const TestKey* key : keys) {
    policy.keys.push_back(key->key);
  }
  return policy;
}

FakeDns dnsOf(const std::vector<const TestKey*>& keys) {
  FakeDns dns;
  for (const TestKey* key : keys) {
    dns.addText(key->name, key->record);
  }
  return dns;
}

const std::string kMessage =
    "From: Alice Example <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Quarterly report\r\n"
    "Date: Mon, 07 Dec 2026 01:00:00 +0000\r\n"
    "Message-ID: <report-1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "List-Unsubscribe: <https://example.com/u/abc>, <mailto:unsubscribe@example.com>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "X-Mailer: crm 1.0\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "the numbers are   attached.  \r\n"
    "\r\n"
    "\r\n";

DkimSigning sign(const config::DkimPolicy& policy, std::string_view message) {
  DkimSigner signer(policy);
  signer.feed(message);
  return signer.finish();
}

std::string results(const std::vector<DkimSignature>& signatures) {
  std::string out;
  for (const DkimSignature& signature : signatures) {
    out += (out.empty() ? "" : ",") + std::string(name(signature.result)) + ":" + signature.algorithm;
  }
  return out;
}

// dkimpy's verdict on every signature of message, one line each; BOOST_TEST fails unless all pass.
std::string dkimpyVerify(const std::string& message, const std::vector<const TestKey*>& keys) {
  std::string records;
  for (const TestKey* key : keys) {
    records += key->name + " " + key->record + "\n";
  }
  const std::string message_file = test::writeTempFile("mxgate_dkim_signer_message.eml", message);
  const std::string records_file = test::writeTempFile("mxgate_dkim_signer_records.txt", records);
  int status = -1;
  const std::string output = test::runCommand(
      "/usr/bin/python3 " MXGATE_SOURCE_DIR "/tests/unit/auth/dkimpy_verify.py " + message_file + " " + records_file,
      status);
  std::filesystem::remove(message_file);
  std::filesystem::remove(records_file);
  BOOST_TEST(status == 0, "dkimpy: " << output);
  BOOST_TEST_MESSAGE("dkimpy: " << output);
  return output;
}

// The h= tag of each DKIM-Signature field in header_fields.
std::vector<std::string> signedFieldLists(const std::string& header_fields) {
  std::vector<std::string> lists;
  size_t start = 0;
  while ((start = header_fields.find("DKIM-Signature: ", start)) != std::string::npos) {
    start += 16;
    size_t end = start;
    while ((end = header_fields.find("\r\n", end)) != std::string::npos && end + 2 < header_fields.size() &&
           (header_fields[end + 2] == ' ' || header_fields[end + 2] == '\t')) {
      end += 2;
    }
    const std::string value = header_fields.substr(start, end - start);  // tags point into it
    const TagList tags = parseTagList(value);
    BOOST_TEST_REQUIRE(tags.valid());
    lists.push_back(ascii::toLowerCopy(withoutFoldingWhitespace(tags.find("h")->value)));
    start = end;
  }
  return lists;
}

size_t count(const std::string& list, const std::string& field) {
  size_t n = 0;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t colon = std::min(list.find(':', start), list.size());
    n += list.substr(start, colon - start) == field;
    start = colon + 1;
  }
  return n;
}

BOOST_AUTO_TEST_SUITE(dkim_signer)

BOOST_AUTO_TEST_CASE(rsa_signature_verifies_with_ours_and_dkimpy) {
  const std::vector<const TestKey*> keys{&rsaKey()};
  const DkimSigning signing = sign(policyOf(keys), kMessage);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  BOOST_TEST(signing.domain == "example.com");
  BOOST_TEST_MESSAGE(signing.header_fields);
  BOOST_TEST(signing.header_fields.starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;"
                                               "\r\n\ts=rsa2026; t="));
  BOOST_TEST(signing.header_fields.ends_with("\r\n"));
  const std::string signed_message = signing.header_fields + kMessage;
  const auto ours = test::verify(signed_message, dnsOf(keys));
  BOOST_TEST(results(ours) == "pass:rsa-sha256");
  BOOST_TEST(ours.at(0).key_bits == 2048u);
  BOOST_TEST(dkimpyVerify(signed_message, keys) == "0 a=rsa-sha256 d=example.com s=rsa2026 pass\n");
}

BOOST_AUTO_TEST_CASE(ed25519_signature_verifies_with_ours_and_dkimpy) {
  const std::vector<const TestKey*> keys{&ed25519Key()};
  const DkimSigning signing = sign(policyOf(keys), kMessage);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  BOOST_TEST(signing.header_fields.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"
                                               "\r\n\ts=ed2026; t="));
  const std::string signed_message = signing.header_fields + kMessage;
  BOOST_TEST(results(test::verify(signed_message, dnsOf(keys))) == "pass:ed25519-sha256");
  BOOST_TEST(dkimpyVerify(signed_message, keys) == "0 a=ed25519-sha256 d=example.com s=ed2026 pass\n");
}

BOOST_AUTO_TEST_CASE(dual_signing_rsa_and_ed25519) {
  // Listed Ed25519 first: the RSA signature still comes first (receivers that only know RSA).
  const std::vector<const TestKey*> keys{&ed25519Key(), &rsaKey()};
  const DkimSigning signing = sign(policyOf(keys), kMessage);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  const std::string signed_message = signing.header_fields + kMessage;
  BOOST_TEST(results(test::verify(signed_message, dnsOf(keys))) == "pass:rsa-sha256,pass:ed25519-sha256");
  BOOST_TEST(dkimpyVerify(signed_message, keys) ==
             "0 a=rsa-sha256 d=example.com s=rsa2026 pass\n1 a=ed25519-sha256 d=example.com s=ed2026 pass\n");

  // Both break when a signed field changes; the verifier is not passing everything.
  std::string altered = signed_message;
  altered.replace(altered.find("Subject: Quarterly"), 18, "Subject: Quarterlx");
  BOOST_TEST(results(test::verify(altered, dnsOf(keys))) == "fail:rsa-sha256,fail:ed25519-sha256");
}

BOOST_AUTO_TEST_CASE(signed_and_oversigned_fields_in_h) {
  const DkimSigning signing = sign(policyOf({&rsaKey(), &ed25519Key()}), kMessage);
  const std::vector<std::string> lists = signedFieldLists(signing.header_fields);
  BOOST_TEST_REQUIRE(lists.size() == 2u);
  for (const std::string& h : lists) {
    BOOST_TEST_CONTEXT(h) {
      // Present once and over-signed: listed twice.
      for (const std::string field : {"from", "to", "subject", "date", "message-id", "list-unsubscribe",
                                      "list-unsubscribe-post"}) {
        BOOST_TEST(count(h, field) == 2u, field);
      }
      // Absent but over-signed: listed once, so adding one breaks the signature.
      BOOST_TEST(count(h, "cc") == 1u);
      BOOST_TEST(count(h, "reply-to") == 1u);
      // Signed, not over-signed.
      BOOST_TEST(count(h, "mime-version") == 1u);
      BOOST_TEST(count(h, "content-type") == 1u);
      // Not in the list.
      BOOST_TEST(count(h, "x-mailer") == 0u);
    }
  }
  for (const char* field : dkimOversignedHeaders()) {
    const auto signed_fields = dkimSignedHeaders();
    BOOST_TEST((std::find_if(signed_fields.begin(), signed_fields.end(), [&](const char* name) {
                  return std::string_view(name) == field;
                }) != signed_fields.end()),
               field << " is over-signed but not signed");
  }
  // A second From, Cc or List-Unsubscribe-Post added after signing breaks both signatures.
  const FakeDns dns = dnsOf({&rsaKey(), &ed25519Key()});
  for (const std::string added : {"From: mallory@example.org\r\n", "Cc: mallory@example.org\r\n",
                                  "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"}) {
    const std::string tampered = signing.header_fields + added + kMessage;
    BOOST_TEST(results(test::verify(tampered, dns)) == "fail:rsa-sha256,fail:ed25519-sha256", added);
  }
  // An unsigned field may be added.
  BOOST_TEST(results(test::verify(signing.header_fields + "X-Extra: 1\r\n" + kMessage, dns)) ==
             "pass:rsa-sha256,pass:ed25519-sha256");
}

BOOST_AUTO_TEST_CASE(folded_fields_and_body_without_final_crlf) {
  const std::string message =
      "From: \"Alice\r\n Example\" <alice@example.com>\r\n"
      "To: bob@example.net,\r\n\tcarol@example.net\r\n"
      "Subject: a subject that is long enough to be folded\r\n   over two lines\r\n"
      "List-Unsubscribe: <https://example.com/u/a-very-long-opaque-token-0123456789abcdef>,\r\n"
      " <mailto:unsubscribe@example.com?subject=unsubscribe>\r\n"
      "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
      "\r\n"
      "first line\r\n"
      "last line without CRLF";
  const std::vector<const TestKey*> keys{&rsaKey(), &ed25519Key()};
  const DkimSigning signing = sign(policyOf(keys), message);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  // SMTP adds the missing CRLF before the DATA terminator; both forms verify (RFC 6376 §3.4.4:
  // the canonical body ends in CRLF either way). Our verifier sees only SMTP-received mail,
  // where libopendkim requires the final CRLF.
  const std::string signed_message = signing.header_fields + message;
  BOOST_TEST(results(test::verify(signed_message + "\r\n", dnsOf(keys))) == "pass:rsa-sha256,pass:ed25519-sha256");
  dkimpyVerify(signed_message, keys);
  dkimpyVerify(signed_message + "\r\n", keys);
}

BOOST_AUTO_TEST_CASE(canonicalization_edge_cases_agree_with_libopendkim_and_dkimpy) {
  // Both signatures are our own canonicalization (dkim_signing_handle.cpp): both must verify,
  // with our verifier (libopendkim's canonicalization) and with dkimpy.
  const std::vector<const TestKey*> keys{&rsaKey(), &ed25519Key()};
  const std::string head = "From: alice@example.com\r\nSubject: edge\r\n";
  const std::vector<std::string> messages = {
      head + "\r\n",                                            // empty body
      head + "\r\n\r\n\r\n\r\n",                                // only empty lines
      head + "\r\n \t \r\n\t\r\ntext\r\n  \r\n\r\n",             // WSP-only lines around text
      head + "\r\n\ta  b\t\tc \t\r\n   lead\r\ntrail   \r\n",     // WSP runs, leading, trailing
      head + "\r\nfirst\r\nlast   ",                           // last line without CRLF
      "From:alice@example.com\r\nTo: a@example.net\r\nTo: b@example.net\r\nsubject:\t  x  \r\n\t y\r\n"
      "CC:c@example.net\r\nX-Other: 1\r\n\r\nbody\r\n",            // duplicates, case, WSP after ':'
  };
  const FakeDns dns = dnsOf(keys);
  for (const std::string& message : messages) {
    const DkimSigning signing = sign(policyOf(keys), message);
    BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
    std::string sent = signing.header_fields + message;
    if (!sent.ends_with("\r\n")) {
      sent += "\r\n";
    }
    BOOST_TEST(results(test::verify(sent, dns)) == "pass:rsa-sha256,pass:ed25519-sha256", message);
    dkimpyVerify(sent, keys);
  }
}

BOOST_AUTO_TEST_CASE(streaming_in_pieces_signs_the_same_bytes) {
  const std::vector<const TestKey*> keys{&rsaKey(), &ed25519Key()};
  const FakeDns dns = dnsOf(keys);
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    DkimSigner signer(policyOf(keys));
    test::feedInPieces(signer, kMessage, seed, seed == 1 ? 1 : seed * 11);
    const DkimSigning signing = signer.finish();
    BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
    BOOST_TEST(results(test::verify(signing.header_fields + kMessage, dns)) == "pass:rsa-sha256,pass:ed25519-sha256",
               "seed " << seed);
  }
}

BOOST_AUTO_TEST_CASE(the_active_selector_signs) {
  TestKey old_key = makeKey("example.com", "old", DkimAlgorithm::Ed25519Sha256);
  TestKey new_key = makeKey("example.com", "new", DkimAlgorithm::Ed25519Sha256);
  old_key.key.active = false;
  const DkimSigning signing = sign(policyOf({&old_key, &new_key}), kMessage);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  BOOST_TEST(signing.header_fields.find("s=new;") != std::string::npos);
  BOOST_TEST(signing.header_fields.find("s=old;") == std::string::npos);
  BOOST_TEST(results(test::verify(signing.header_fields + kMessage, dnsOf({&new_key}))) == "pass:ed25519-sha256");
}

BOOST_AUTO_TEST_CASE(no_key_or_no_from_domain_is_no_signature) {
  const config::DkimPolicy policy = policyOf({&rsaKey(), &ed25519Key()});
  std::string other = kMessage;
  other.replace(other.find("alice@example.com"), 17, "alice@example.org");
  DkimSigning signing = sign(policy, other);
  BOOST_TEST((signing.status == DkimSigning::Status::NoKey));
  BOOST_TEST(signing.domain == "example.org");
  BOOST_TEST(signing.error == "no active DKIM key for example.org");
  BOOST_TEST(signing.header_fields.empty());

  signing = sign(policy, "To: bob@example.net\r\n\r\nbody\r\n");
  BOOST_TEST((signing.status == DkimSigning::Status::NoKey));
  BOOST_TEST(signing.error == "the message has no From field");

  signing = sign(policy, "From: a@example.com\r\nFrom: b@example.com\r\n\r\nbody\r\n");
  BOOST_TEST((signing.status == DkimSigning::Status::NoKey));
  BOOST_TEST(signing.error == "the message has more than one From mailbox");

  signing = sign(config::DkimPolicy{}, kMessage);
  BOOST_TEST((signing.status == DkimSigning::Status::NoKey));
  BOOST_TEST(signing.error == "no active DKIM key for example.com");
}

BOOST_AUTO_TEST_CASE(a_key_that_cannot_sign_fails_without_fields) {
  // config::load refuses such files; a policy built otherwise still gets a clear answer. (Not
  // tried with RSA: libopendkim leaks its key state when it cannot parse the key.)
  TestKey ed = makeKey("example.com", "broken", DkimAlgorithm::Ed25519Sha256);
  ed.key.private_key = std::make_shared<const std::string>("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  const DkimSigning signing = sign(policyOf({&rsaKey(), &ed}), kMessage);
  BOOST_TEST((signing.status == DkimSigning::Status::Failed));
  BOOST_TEST(signing.header_fields.empty());
  BOOST_TEST(signing.error == "signing with selector broken failed (not a PEM key of its algorithm?)");
}

BOOST_AUTO_TEST_CASE(message_without_body) {
  const std::vector<const TestKey*> keys{&ed25519Key()};
  for (const std::string message : {"From: alice@example.com\r\nSubject: s\r\n\r\n",
                                    "From: alice@example.com\r\nSubject: s\r\n"}) {
    const DkimSigning signing = sign(policyOf(keys), message);
    BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
    BOOST_TEST(results(test::verify(signing.header_fields + message, dnsOf(keys))) == "pass:ed25519-sha256");
  }
}

// ---- key generation and records -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(generated_keys_and_records) {
  const std::string& ed = ed25519Key().record;
  BOOST_TEST(ed.starts_with("v=DKIM1; k=ed25519; p="));
  const auto raw = base64::decode(ed.substr(ed.find("p=") + 2));
  BOOST_TEST_REQUIRE(raw.has_value());
  BOOST_TEST(raw->size() == 32u);  // RFC 8463 §4.2: the bare public key
  BOOST_TEST(ed25519Key().key.private_key->starts_with("-----BEGIN PRIVATE KEY-----\n"));

  const std::string& rsa = rsaKey().record;
  BOOST_TEST(rsa.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));  // 2048-bit SPKI

  BOOST_TEST(dkimZoneLine("s1", "example.com", "v=DKIM1; k=ed25519; p=abc") ==
             "s1._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=abc\"");
}

BOOST_AUTO_TEST_CASE(long_record_is_split_into_255_byte_strings_and_verifies) {
  const TestKey big = makeKey("example.com", "big", DkimAlgorithm::RsaSha256, 4096);
  const std::string line = dkimZoneLine("big", "example.com", big.record);
  BOOST_TEST(line.starts_with("big._domainkey.example.com. IN TXT \""));
  std::string joined;
  size_t strings = 0;
  for (size_t open = line.find('"'); open != std::string::npos; open = line.find('"', open)) {
    const size_t close = line.find('"', open + 1);
    BOOST_TEST(close - open - 1 <= 255u);
    joined += line.substr(open + 1, close - open - 1);
    ++strings;
    open = close + 1;
  }
  BOOST_TEST(strings == 3u);  // a 4096-bit key record is about 740 bytes
  BOOST_TEST(joined == big.record);
  FakeDns dns;
  dns.loadZone(test::writeTempFile("mxgate_dkim_signer_zone.txt", line + "\n"));
  const DkimSigning signing = sign(policyOf({&big}), kMessage);
  BOOST_TEST_REQUIRE((signing.status == DkimSigning::Status::Signed), signing.error);
  const auto ours = test::verify(signing.header_fields + kMessage, dns);
  BOOST_TEST(results(ours) == "pass:rsa-sha256");
  BOOST_TEST(ours.at(0).key_bits == 4096u);
  TestKey from_zone = big;
  from_zone.record = joined;
  dkimpyVerify(signing.header_fields + kMessage, {&from_zone});
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::auth
