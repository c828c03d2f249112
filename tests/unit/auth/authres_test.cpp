// Authentication-Results tests (RFC 8601): the built field checked by a strict parser of the
// §2.2 ABNF written here and by Debian's python3-authres (the reference parser, which is more
// lenient: it neither unescapes quoted-strings nor accepts a quoted authserv-id), hostile
// values, folding; and the stripper against reliability.md T37 (1, 3 and 7 forged fields in
// various positions, folded and commented authserv-ids, other ids kept, body lines kept) at
// every split point; reading named fields of a header section (header_section.h).
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "auth_test_util.h"
#include "mxgate/auth/authres.h"
#include "mxgate/auth/header_section.h"
#include "mxgate/base/ascii.h"

namespace mxgate::auth {
namespace {

// ---- A strict RFC 8601 §2.2 parser -----------------------------------------------------------

struct ParsedResult {
  std::string method;
  std::string result;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> properties;  // "ptype.property", value
};

struct ParsedField {
  std::string authserv_id;
  std::vector<ParsedResult> results;
};

class StrictParser {
 public:
  explicit StrictParser(std::string text) : text_(std::move(text)) {}

  std::optional<ParsedField> parse() {
    ParsedField field;
    skipCfws();
    if (!value(field.authserv_id)) {
      return std::nullopt;
    }
    skipCfws();
    while (pos_ < text_.size()) {
      if (text_[pos_] != ';') {
        return std::nullopt;
      }
      ++pos_;
      ParsedResult result;
      skipCfws();
      if (!keyword(result.method)) {
        return std::nullopt;
      }
      skipCfws();
      if (!expect('=')) {
        return std::nullopt;
      }
      skipCfws();
      if (!keyword(result.result)) {
        return std::nullopt;
      }
      skipCfws();
      if (text_.compare(pos_, 6, "reason") == 0) {
        pos_ += 6;
        skipCfws();
        if (!expect('=')) {
          return std::nullopt;
        }
        skipCfws();
        if (!value(result.reason)) {
          return std::nullopt;
        }
        skipCfws();
      }
      while (pos_ < text_.size() && text_[pos_] != ';') {
        std::string ptype, property, pvalue;
        if (!keyword(ptype)) {
          return std::nullopt;
        }
        skipCfws();
        if (!expect('.')) {
          return std::nullopt;
        }
        skipCfws();
        if (!keyword(property)) {
          return std::nullopt;
        }
        skipCfws();
        if (!expect('=')) {
          return std::nullopt;
        }
        skipCfws();
        if (!propertyValue(pvalue)) {
          return std::nullopt;
        }
        result.properties.emplace_back(ptype + "." + property, pvalue);
        skipCfws();
      }
      field.results.push_back(result);
    }
    return field;
  }

 private:
  bool expect(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void skipCfws() {
    for (;;) {
      while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) {
        ++pos_;
      }
      if (pos_ == text_.size() || text_[pos_] != '(') {
        return;
      }
      int depth = 0;
      do {
        if (pos_ >= text_.size()) {
          return;
        }
        const char c = text_[pos_++];
        if (c == '\\') {
          ++pos_;
        }
        depth += c == '(' ? 1 : (c == ')' ? -1 : 0);
      } while (depth > 0);
    }
  }

  // Keyword = ldh-str (RFC 8601 §2.2, RFC 5321).
  bool keyword(std::string& out) {
    const size_t start = pos_;
    while (pos_ < text_.size() && (ascii::isAlpha(text_[pos_]) || ascii::isDigit(text_[pos_]) || text_[pos_] == '-')) {
      ++pos_;
    }
    out = text_.substr(start, pos_ - start);
    return !out.empty() && out.back() != '-';
  }

  bool quotedString(std::string& out) {
    if (!expect('"')) {
      return false;
    }
    while (pos_ < text_.size() && text_[pos_] != '"') {
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '\\') {
        if (++pos_ == text_.size()) {
          return false;
        }
        c = static_cast<unsigned char>(text_[pos_]);
        if (c < 0x20 && c != '\t') {
          return false;
        }
      } else if ((c < 0x20 && c != '\t' && c != ' ') || c == 0x7F) {
        return false;
      }
      out.push_back(static_cast<char>(c));
      ++pos_;
    }
    return expect('"');
  }

  static bool isTspecial(char c) { return c != 0 && std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos; }

  // value = token / quoted-string (RFC 2045).
  bool value(std::string& out) {
    if (pos_ < text_.size() && text_[pos_] == '"') {
      return quotedString(out);
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] > 0x20 && text_[pos_] < 0x7F && !isTspecial(text_[pos_])) {
      ++pos_;
    }
    out = text_.substr(start, pos_ - start);
    return !out.empty();
  }

  // pvalue = value / [ [ local-part ] "@" ] domain-name.
  bool propertyValue(std::string& out) {
    const size_t start = pos_;
    if (value(out) && (pos_ == text_.size() || text_[pos_] != '@')) {
      return true;
    }
    pos_ = start;
    out.clear();
    while (pos_ < text_.size() && (ascii::isAlpha(text_[pos_]) || ascii::isDigit(text_[pos_]) ||
                                   std::string_view("!#$%&'*+-/=?^_`{|}~.").find(text_[pos_]) != std::string_view::npos)) {
      out.push_back(text_[pos_++]);
    }
    if (!expect('@')) {
      return false;
    }
    out.push_back('@');
    const size_t domain = pos_;
    while (pos_ < text_.size() && (ascii::isAlpha(text_[pos_]) || ascii::isDigit(text_[pos_]) || text_[pos_] == '-' ||
                                   text_[pos_] == '.')) {
      ++pos_;
    }
    out += text_.substr(domain, pos_ - domain);
    return pos_ > domain;
  }

  std::string text_;
  size_t pos_ = 0;
};

// Checks the field's line structure and returns its parse; failures are test errors.
std::optional<ParsedField> parseField(const std::string& field) {
  const std::string prefix = "Authentication-Results:";
  BOOST_TEST_REQUIRE(field.compare(0, prefix.size(), prefix) == 0);
  BOOST_TEST_REQUIRE(field.size() >= 2);
  BOOST_TEST(field.compare(field.size() - 2, 2, "\r\n") == 0);
  std::string unfolded;
  size_t line = 0;
  for (size_t i = prefix.size(); i + 2 < field.size(); ++i) {
    const char c = field[i];
    if (c == '\r' || c == '\n') {
      const bool fold = c == '\r' && field[i + 1] == '\n' && (field[i + 2] == '\t' || field[i + 2] == ' ');
      BOOST_TEST(fold, "bare CR or LF at " << i);
      if (!fold) {
        return std::nullopt;
      }
      ++i;
      line = 0;
      continue;
    }
    unfolded.push_back(c);
    BOOST_TEST(++line <= 998u);
  }
  return StrictParser(unfolded).parse();
}

std::vector<std::string> lines(const std::string& field) {
  std::vector<std::string> out;
  for (size_t start = 0; start < field.size();) {
    const size_t end = field.find("\r\n", start);
    out.push_back(field.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

// Runs python3-authres over the fields; one JSON result per field.
std::vector<nlohmann::json> pythonParse(const std::vector<std::string>& fields) {
  const std::string path = (std::filesystem::temp_directory_path() / "mxgate_auth_authres_fields.txt").string();
  {
    std::FILE* out = std::fopen(path.c_str(), "wb");
    BOOST_TEST_REQUIRE(out != nullptr);
    for (const std::string& field : fields) {
      std::fwrite(field.data(), 1, field.size(), out);
      std::fwrite("\0\n", 1, 2, out);
    }
    std::fclose(out);
  }
  const std::string command = "/usr/bin/python3 " MXGATE_SOURCE_DIR "/tests/unit/auth/authres_check.py " + path;
  std::FILE* pipe = popen(command.c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    output.append(buffer, n);
  }
  BOOST_TEST_REQUIRE(pclose(pipe) == 0);
  std::filesystem::remove(path);
  std::vector<nlohmann::json> parsed;
  for (size_t start = 0; start < output.size();) {
    const size_t end = output.find('\n', start);
    parsed.push_back(nlohmann::json::parse(output.substr(start, end - start)));
    start = end + 1;
  }
  return parsed;
}

DkimSignature signature(DkimResult result, std::string domain, std::string selector, std::string b,
                        std::string reason = "") {
  DkimSignature s;
  s.result = result;
  s.domain = std::move(domain);
  s.selector = std::move(selector);
  s.header_b = std::move(b);
  s.reason = std::move(reason);
  return s;
}

AuthFacts passingFacts() {
  AuthFacts facts;
  facts.spf.result = spf::Result::Pass;
  facts.mail_from = "bounce@example.com";
  facts.helo = "mail.example.com";
  facts.dkim = {signature(DkimResult::Pass, "example.com", "sel", "abcdEFGH")};
  facts.dmarc.result = DmarcResult::Pass;
  facts.dmarc.from_domain = "example.com";
  facts.dmarc.policy = "reject";
  return facts;
}

BOOST_AUTO_TEST_SUITE(authres)

BOOST_AUTO_TEST_CASE(builds_the_documented_layout) {
  const std::string field = buildAuthenticationResults("mx.example.org", passingFacts());
  BOOST_TEST(field ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=pass smtp.mailfrom=bounce@example.com;\r\n"
             "\tdkim=pass header.d=example.com header.s=sel header.b=abcdEFGH;\r\n"
             "\tdmarc=pass (policy=reject) header.from=example.com\r\n");
}

BOOST_AUTO_TEST_CASE(null_sender_none_and_failures) {
  AuthFacts facts;
  facts.spf.result = spf::Result::TempError;
  facts.spf.problem = "DNS timeout";
  facts.helo = "client.example.net";
  facts.dmarc.result = DmarcResult::None;
  facts.dmarc.reason = "no DMARC record";
  facts.dmarc.from_domain = "example.net";
  const std::string field = buildAuthenticationResults("mx.example.org", facts);
  BOOST_TEST(field ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=temperror reason=\"DNS timeout\" smtp.helo=client.example.net;\r\n"
             "\tdkim=none;\r\n"
             "\tdmarc=none reason=\"no DMARC record\" header.from=example.net\r\n");

  facts = passingFacts();
  facts.dkim = {signature(DkimResult::Fail, "example.com", "sel", "abc/def+", "body hash mismatch"),
                signature(DkimResult::PermError, "other.example", "s2048-2023-long-selector-name", "zz==",
                          "rsa-sha1 is not accepted (RFC 8301)")};
  facts.dmarc.result = DmarcResult::Fail;
  facts.dmarc.reason = "no aligned SPF or DKIM pass";
  const std::string failing = buildAuthenticationResults("mx.example.org", facts);
  BOOST_TEST(failing ==
             "Authentication-Results: mx.example.org;\r\n"
             "\tspf=pass smtp.mailfrom=bounce@example.com;\r\n"
             "\tdkim=fail reason=\"body hash mismatch\" header.d=example.com header.s=sel\r\n"
             "\theader.b=\"abc/def+\";\r\n"
             "\tdkim=permerror reason=\"rsa-sha1 is not accepted (RFC 8301)\"\r\n"
             "\theader.d=other.example header.s=s2048-2023-long-selector-name\r\n"
             "\theader.b=\"zz==\";\r\n"
             "\tdmarc=fail (policy=reject) reason=\"no aligned SPF or DKIM pass\"\r\n"
             "\theader.from=example.com\r\n");
  for (const std::string& line : lines(failing)) {
    BOOST_TEST(line.size() <= 78u, line);
  }
  const auto parsed = parseField(failing);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->authserv_id == "mx.example.org");
  BOOST_TEST_REQUIRE(parsed->results.size() == 4u);
  BOOST_TEST(parsed->results[1].reason == "body hash mismatch");
  BOOST_TEST(parsed->results[1].properties[2].second == "abc/def+");
  BOOST_TEST(parsed->results[3].method == "dmarc");
  BOOST_TEST(parsed->results[3].result == "fail");
}

BOOST_AUTO_TEST_CASE(reference_parser_agrees) {
  std::vector<std::string> fields;
  fields.push_back(buildAuthenticationResults("mx.example.org", passingFacts()));
  AuthFacts many = passingFacts();
  many.spf.result = spf::Result::SoftFail;
  many.spf.problem = "matched ~all";
  for (int i = 0; i < 5; ++i) {
    many.dkim.push_back(signature(i % 2 == 0 ? DkimResult::TempError : DkimResult::Fail, "d" + std::to_string(i) + ".example",
                                  "selector" + std::to_string(i), "12345678", "key lookup failed temporarily"));
  }
  many.dmarc.result = DmarcResult::TempError;
  many.dmarc.reason = "DNS failure looking up the DMARC record";
  fields.push_back(buildAuthenticationResults("mx.example.org", many));
  AuthFacts helo;
  helo.helo = "[192.0.2.1]";  // an address literal is not a domain-name: quoted
  fields.push_back(buildAuthenticationResults("mx.example.org", helo));

  const std::vector<nlohmann::json> python = pythonParse(fields);
  BOOST_TEST_REQUIRE(python.size() == fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    BOOST_TEST_REQUIRE(!python[i].contains("error"), python[i].dump());
    const auto ours = parseField(fields[i]);
    BOOST_TEST_REQUIRE(ours.has_value());
    BOOST_TEST(python[i]["id"] == ours->authserv_id);
    BOOST_TEST_REQUIRE(python[i]["results"].size() == ours->results.size());
    for (size_t r = 0; r < ours->results.size(); ++r) {
      const auto& theirs = python[i]["results"][r];
      BOOST_TEST(theirs[0] == ours->results[r].method);
      BOOST_TEST(theirs[1] == ours->results[r].result);
      BOOST_TEST((theirs[2].is_null() ? "" : theirs[2].get<std::string>()) == ours->results[r].reason);
      BOOST_TEST_REQUIRE(theirs[3].size() == ours->results[r].properties.size());
      for (size_t p = 0; p < theirs[3].size(); ++p) {
        BOOST_TEST(theirs[3][p][0].get<std::string>() + "." + theirs[3][p][1].get<std::string>() ==
                   ours->results[r].properties[p].first);
        BOOST_TEST(theirs[3][p][2] == ours->results[r].properties[p].second);
      }
    }
    for (const std::string& line : lines(fields[i])) {
      BOOST_TEST(line.size() <= 78u, line);
    }
  }
  BOOST_TEST(python[2]["results"][0][3][0][2] == "[192.0.2.1]");
}

BOOST_AUTO_TEST_CASE(hostile_values_stay_inside_their_quotes) {
  AuthFacts facts = passingFacts();
  facts.mail_from = "\"evil;dkim=pass\"@example.com\r\nX-Injected: 1";
  facts.dkim = {signature(DkimResult::Fail, "legitimate.com(.attacker.com", "a \"b\\c;\r\n d", "ab\0cdefg"),
                signature(DkimResult::PermError, std::string(2000, 'x') + ".example", std::string(3000, 's'), "",
                          std::string("bad\xff\xfe utf-8 \xc3\xa9")),
                signature(DkimResult::Pass, "b\xc3\xbc" "cher.example", "sel", "12345678")};
  facts.dmarc.from_domain = "example.com\r\nAuthentication-Results: mx.example.org; dmarc=pass";
  const std::string field = buildAuthenticationResults("mx.example.org", facts);
  const auto parsed = parseField(field);
  BOOST_TEST_REQUIRE(parsed.has_value(), field);
  BOOST_TEST_REQUIRE(parsed->results.size() == 5u);
  BOOST_TEST(parsed->results[0].properties[0].second == "\"evil;dkim=pass\"@example.com??X-Injected: 1");
  BOOST_TEST(parsed->results[1].properties[0].second == "legitimate.com(.attacker.com");
  BOOST_TEST(parsed->results[1].properties[1].second == "a \"b\\c;?? d");
  BOOST_TEST(parsed->results[2].properties[0].second.size() == 256u);
  BOOST_TEST(parsed->results[2].reason == "bad?? utf-8 \xc3\xa9");
  BOOST_TEST(parsed->results[3].properties[0].second == "b\xc3\xbc" "cher.example");
  BOOST_TEST(parsed->results[4].properties[0].second == "example.com??Authentication-Results: mx.example.org; dmarc=pass");
  for (const std::string& line : lines(field)) {
    BOOST_TEST(line.size() <= 998u);
  }
}

// ---- Stripping (RFC 8601 §5, reliability.md T37) ---------------------------------------------

struct Part {
  std::string text;
  bool ours;  // a field only we may write (Authentication-Results, X-Mxgate-*): removed
};

std::string joined(const std::vector<Part>& parts, bool keep_ours) {
  std::string out;
  for (const Part& part : parts) {
    if (keep_ours || !part.ours) {
      out += part.text;
    }
  }
  return out;
}

// Our cluster: this node writes mx.example.org, its sibling mx2.example.org.
std::string strip(const std::string& input, const std::vector<size_t>& cuts, size_t& removed) {
  ForgedFieldStripper stripper({"mx.example.org", "MX2.example.org"});
  std::string out;
  size_t start = 0;
  for (size_t cut : cuts) {
    stripper.feed(std::string_view(input).substr(start, cut - start), out);
    start = cut;
  }
  stripper.feed(std::string_view(input).substr(start), out);
  stripper.finish(out);
  removed = stripper.removed();
  return out;
}

// One-shot, every single split point, a few random three-way splits, byte by byte.
void checkStripping(const std::vector<Part>& parts) {
  const std::string input = joined(parts, true);
  const std::string expected = joined(parts, false);
  size_t ours = 0;
  for (const Part& part : parts) {
    ours += part.ours;
  }
  size_t removed = 0;
  BOOST_TEST(strip(input, {}, removed) == expected);
  BOOST_TEST(removed == ours);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const std::string out = strip(input, {cut}, removed);
    BOOST_TEST_REQUIRE(out == expected, "split at " << cut);
    BOOST_TEST_REQUIRE(removed == ours);
  }
  std::mt19937 random(static_cast<uint32_t>(input.size()));
  for (int round = 0; round < 50; ++round) {
    std::uniform_int_distribution<size_t> at(0, input.size());
    size_t a = at(random), b = at(random);
    BOOST_TEST_REQUIRE(strip(input, {std::min(a, b), std::max(a, b)}, removed) == expected);
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) {
    every.push_back(i);
  }
  BOOST_TEST(strip(input, every, removed) == expected);
}

const Part kReceived{"Received: from client.example.net (client.example.net [192.0.2.7])\r\n\tby mx.example.org\r\n", false};
const Part kFrom{"From: Joe <joe@example.com>\r\n", false};
const Part kSubject{"Subject: hello\r\n", false};
const Part kOther{"Authentication-Results: lists.example.net; dkim=pass header.d=example.com\r\n", false};
const Part kBody{"\r\nAuthentication-Results: mx.example.org; dkim=pass\r\nbody line\r\n", false};

Part forged(int variant) {
  switch (variant % 7) {
    case 0:
      return {"Authentication-Results: mx.example.org; dkim=pass header.d=bank.example\r\n", true};
    case 1:
      return {"Authentication-Results:\r\n mx.example.org;\r\n\tspf=pass smtp.mailfrom=bank.example\r\n", true};
    case 2:
      return {"authentication-results: (trusted (really)) MX.Example.Org 1; dmarc=pass\r\n", true};
    case 3:
      return {"Authentication-Results : \"mx.example.org\"; dkim=pass\r\n", true};
    case 4:
      return {"Authentication-Results: mx.example.org(comment); none\r\n", true};
    case 5:
      return {"AUTHENTICATION-RESULTS:\t\r\n\t(folded)\r\n mx.example.org; arc=pass\r\n", true};
    default:
      return {"Authentication-Results: mx.example.org;\r\n\tdkim=pass\r\n\t header.d=bank.example\r\n", true};
  }
}

Part forgedOwn(int variant) {
  switch (variant % 5) {
    case 0:
      return {"X-Mxgate-Tag: spf=pass\r\n", true};
    case 1:
      return {"x-mxgate-tag:\r\n dmarc=pass;\r\n\tvirus=clean\r\n", true};
    case 2:
      return {"X-MXGATE-Verdict : clean\r\n", true};
    case 3:
      return {"X-Mxgate-:\r\n", true};
    default:
      return {"X-mXgAtE-Tag:trusted\r\n \r\n", true};
  }
}

BOOST_AUTO_TEST_CASE(strips_one_forged_field) {
  checkStripping({forged(0), kReceived, kFrom, kSubject, kBody});
  checkStripping({kReceived, kFrom, forged(1), kSubject, kBody});
  checkStripping({kReceived, kFrom, kSubject, forged(2), kBody});
}

BOOST_AUTO_TEST_CASE(strips_three_forged_fields) {
  checkStripping({forged(0), kReceived, forged(3), kFrom, kOther, kSubject, forged(4), kBody});
  checkStripping({kReceived, forged(5), forged(6), forged(2), kFrom, kBody});
}

BOOST_AUTO_TEST_CASE(strips_seven_forged_fields) {
  std::vector<Part> parts;
  for (int i = 0; i < 7; ++i) {
    parts.push_back(forged(i));
    parts.push_back(i % 2 == 0 ? kReceived : kOther);
  }
  parts.push_back(kFrom);
  parts.push_back(kBody);
  checkStripping(parts);
  std::vector<Part> adjacent = {kFrom};
  for (int i = 0; i < 7; ++i) {
    adjacent.push_back(forged(6 - i));
  }
  adjacent.push_back(kBody);
  checkStripping(adjacent);
}

BOOST_AUTO_TEST_CASE(strips_sibling_nodes_fields) {
  checkStripping({kReceived, {"Authentication-Results: mx2.example.org; dkim=pass header.d=bank.example\r\n", true},
                  kFrom, kOther, {"Authentication-Results:\r\n (sibling) Mx2.Example.Org; spf=pass\r\n", true},
                  forged(3), kBody});
}

BOOST_AUTO_TEST_CASE(strips_x_mxgate_fields) {
  for (int i = 0; i < 5; ++i) {
    checkStripping({kReceived, forgedOwn(i), kFrom, kSubject, kBody});
  }
  checkStripping({forgedOwn(1), forged(2), forgedOwn(2), kFrom, forgedOwn(4), forgedOwn(0), kBody});
  checkStripping({kFrom, forgedOwn(1)});  // ends inside the header section
  checkStripping({
      {"X-Mxgate\r\n", false},
      {"X-Mxgate: no dash\r\n", false},
      {"X-Mxgat-Tag: close\r\n", false},
      {"Y-Mxgate-Tag: other\r\n", false},
      {"XX-Mxgate-Tag: other\r\n", false},
      {"X-Original-X-Mxgate-Tag: other\r\n", false},
      {"Subject:\r\n X-Mxgate-Tag: a continuation line, not a field\r\n", false},
      kFrom,
      {"\r\nX-Mxgate-Tag: in the body\r\n", false},
  });
}

BOOST_AUTO_TEST_CASE(field_bodies_are_unfolded_and_matched_without_case) {
  const std::string section =
      "From: a@example.org\r\nX-Mxgate-Send-At: 1796722200\r\nSubject: x\r\n X-Mxgate-Send-At: 1\r\n"
      "x-mxgate-send-at :\r\n 2026-12-08T09:30:00Z\r\nX-Mxgate-Send-Attempt: 3\r\n";
  const std::vector<std::string> bodies = mxgate::auth::fieldBodies(section, "X-Mxgate-Send-At");
  BOOST_TEST(bodies == (std::vector<std::string>{" 1796722200", " 2026-12-08T09:30:00Z"}),
             boost::test_tools::per_element());
  BOOST_TEST(mxgate::auth::fieldBodies(section + "\r\nX-Mxgate-Send-At: body\r\n", "X-Mxgate-Send-At").size() == 2u);
  BOOST_TEST(mxgate::auth::fieldBodies(section, "Date").empty());
}

BOOST_AUTO_TEST_CASE(counts_each_kind) {
  ForgedFieldStripper stripper({"mx.example.org", "mx2.example.org"});
  std::string out;
  stripper.feed(forged(0).text + forgedOwn(0).text + kFrom.text + forgedOwn(1).text +
                    "Authentication-Results: mx2.example.org; none\r\n" + kOther.text + kBody.text,
                out);
  stripper.finish(out);
  BOOST_TEST(stripper.removedAuthResults() == 2u);
  BOOST_TEST(stripper.removedOwnFields() == 2u);
  BOOST_TEST(out == kFrom.text + kOther.text + kBody.text);
}

BOOST_AUTO_TEST_CASE(keeps_what_is_not_ours) {
  checkStripping({
      {"Authentication-Results: mx.example.org.evil; dkim=pass\r\n", false},
      {"Authentication-Results: mx.example.orgx; dkim=pass\r\n", false},
      {"Authentication-Results: (mx.example.org) other.example; dkim=pass\r\n", false},
      {"Authentication-Results-Original: mx.example.org; dkim=pass\r\n", false},
      {"X-Authentication-Results: mx.example.org; dkim=pass\r\n", false},
      {"Authentication-Result: mx.example.org; dkim=pass\r\n", false},
      {"Authentication-Results: mx3.example.org; dkim=pass\r\n", false},
      {"Authentication-Results: example.org; dkim=pass\r\n", false},
      {"Authentication-Results: ; dkim=pass\r\n", false},
      {"Authentication-Results mx.example.org; no colon\r\n", false},
      {"Authentication-Results: (comment ending in a backslash\\\r\n", false},  // read past the end once
      kOther,
      kFrom,
      kBody,
  });
}

BOOST_AUTO_TEST_CASE(header_only_message_and_odd_starts) {
  checkStripping({kFrom, forged(0)});  // ends inside the header section: finish() decides
  checkStripping({kFrom, kOther});
  checkStripping({{" leading continuation line\r\n", false}, forged(1), kFrom, kBody});
  checkStripping({{"\r\n", false}, {"Authentication-Results: mx.example.org; dkim=pass\r\n", false}});  // all body
}

BOOST_AUTO_TEST_CASE(exactly_one_genuine_field_after_stripping) {
  const std::vector<Part> parts = {forged(0), kReceived, forged(1), kFrom, forged(2), kBody};
  size_t removed = 0;
  const std::string message = buildAuthenticationResults("mx.example.org", passingFacts()) + strip(joined(parts, true), {}, removed);
  BOOST_TEST(removed == 3u);
  size_t ours = 0;
  ForgedFieldStripper counter({"mx.example.org"});
  std::string out;
  counter.feed(message, out);
  counter.finish(out);
  ours = counter.removed();
  BOOST_TEST(ours == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::auth
