// libFuzzer target for Authentication-Results (RFC 8601 §2.2, §5): the forged-field stripper
// runs over the input as a message with input-derived split points, and
// buildAuthenticationResults over input-derived values. Invariants (trap on failure): the
// stripped output does not depend on the split points and is the input minus whole
// Authentication-Results and X-Mxgate-* header fields (checked against a plain line-based
// reference split, with the removed counts matching the fields skipped); the built field
// ends in CRLF, has no bare CR or LF, continues every folded line with a TAB, has no line over
// 998 octets, and is recognised and removed by a stripper with the same token authserv-id.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/authres.h"
#include "mxgate/base/ascii.h"

namespace {

using namespace mxgate;

std::string strip(std::string_view input, const std::vector<size_t>& cuts, size_t& removed) {
  auth::ForgedFieldStripper stripper({"mx.example.org", "mx2.example.org"});
  std::string out;
  size_t start = 0;
  for (size_t cut : cuts) {
    stripper.feed(input.substr(start, cut - start), out);
    start = cut;
  }
  stripper.feed(input.substr(start), out);
  stripper.finish(out);
  removed = stripper.removed();
  return out;
}

// Header fields by lines: a line starting with SP or HTAB continues the field; the first empty
// line ends the section.
std::vector<std::string_view> referenceFields(std::string_view input, std::string_view& rest) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < input.size()) {
    if (input.substr(pos, 2) == "\r\n") {
      break;
    }
    const size_t end = input.find("\r\n", pos);
    const size_t next = end == std::string_view::npos ? input.size() : end + 2;
    if ((input[pos] == ' ' || input[pos] == '\t') && !fields.empty()) {
      fields.back() = input.substr(fields.back().data() - input.data(), next - (fields.back().data() - input.data()));
    } else {
      fields.push_back(input.substr(pos, next - pos));
    }
    pos = next;
  }
  rest = input.substr(pos);
  return fields;
}

bool isAuthResults(std::string_view field) {
  const size_t colon = field.find(':');
  if (colon == std::string_view::npos || field.substr(0, colon).find("\r\n") != std::string_view::npos) {
    return false;
  }
  std::string_view name = field.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    name.remove_suffix(1);
  }
  return ascii::equalsIgnoreCase(name, "Authentication-Results");
}

bool isOwnField(std::string_view field) { return ascii::startsWithIgnoreCase(field, "X-Mxgate-"); }

void checkStripper(std::string_view input) {
  size_t removed = 0;
  const std::string whole = strip(input, {}, removed);
  const size_t a = input.empty() ? 0 : input[0] % (input.size() + 1);
  const size_t b = input.empty() ? 0 : input[input.size() - 1] % (input.size() + 1);
  size_t removed_split = 0;
  if (strip(input, {std::min(a, b), std::max(a, b)}, removed_split) != whole || removed_split != removed) {
    __builtin_trap();
  }
  std::string_view rest;
  size_t pos = 0;
  size_t skipped = 0;
  for (std::string_view field : referenceFields(input, rest)) {
    if (isOwnField(field)) {
      ++skipped;
    } else if (std::string_view(whole).substr(pos, field.size()) == field) {
      pos += field.size();
    } else if (isAuthResults(field)) {
      ++skipped;
    } else {
      __builtin_trap();
    }
  }
  if (std::string_view(whole).substr(pos) != rest || skipped != removed) {
    __builtin_trap();
  }
}

bool isToken(std::string_view text) {
  if (text.empty() || text.size() > 256) {
    return false;
  }
  for (char c : text) {
    if (c <= 0x20 || c >= 0x7F || std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

void checkBuilder(std::string_view input) {
  std::vector<std::string> parts;
  for (size_t start = 0; parts.size() < 8;) {
    const size_t end = input.find('\x01', start);
    parts.emplace_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  parts.resize(8);
  auth::AuthFacts facts;
  facts.spf.result = static_cast<spf::Result>(input.size() % 7);
  facts.spf.problem = parts[6];
  facts.mail_from = parts[1];
  facts.helo = parts[2];
  auth::DkimSignature signature;
  signature.result = static_cast<auth::DkimResult>(input.size() % 6);
  signature.domain = parts[3];
  signature.selector = parts[4];
  signature.header_b = parts[5];
  signature.reason = parts[6];
  facts.dkim.assign(input.size() % 3, signature);
  facts.dmarc.result = static_cast<auth::DmarcResult>(input.size() % 5);
  facts.dmarc.from_domain = parts[7];
  facts.dmarc.reason = parts[6];
  const std::string field = auth::buildAuthenticationResults(parts[0], facts);
  if (!field.ends_with("\r\n")) {
    __builtin_trap();
  }
  size_t line = 0;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\r' || field[i] == '\n') {
      const bool crlf = field[i] == '\r' && i + 1 < field.size() && field[i + 1] == '\n';
      const bool last = i + 2 == field.size();
      if (!crlf || (!last && field[i + 2] != '\t')) {
        __builtin_trap();
      }
      ++i;
      line = 0;
    } else if (++line > 998) {
      __builtin_trap();
    }
  }
  if (isToken(parts[0])) {
    auth::ForgedFieldStripper stripper({parts[0]});
    std::string out;
    stripper.feed(field + "\r\n", out);
    stripper.finish(out);
    if (stripper.removed() != 1 || out != "\r\n") {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checkStripper(input);
  checkBuilder(input);
  return 0;
}
