// Authentication-Results (RFC 8601): building our field (§2.2 ABNF, §2.7 methods and ptypes,
// RFC 7489 §11.2 header.from, RFC 6008 header.b) and removing, before the message reaches us,
// fields that claim one of our authserv-ids (§5) and sender-supplied X-Mxgate-* fields.
// Pure; any thread.
//
// Every untrusted string is made safe before it is written: cut to kMaxValue bytes at a UTF-8
// boundary, control characters and malformed UTF-8 replaced by '?', and written bare only when
// it matches the grammar (RFC 2045 token, or local-part "@" domain-name for pvalue); otherwise
// as a quoted-string with '\' and '"' escaped. So the field never holds a bare CR or LF and no
// line exceeds 998 octets; resinfo properties are folded (CRLF TAB) to stay within 78 columns
// where a single property allows it.
#include "mxgate/auth/authres.h"

#include <cstring>

#include "header_fields.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::auth {
namespace {

constexpr std::string_view kFieldName = "Authentication-Results";
constexpr std::string_view kOwnPrefix = "X-Mxgate-";
constexpr size_t kMaxValue = 256;  // longer than any domain, selector or RFC 5321 path
constexpr size_t kFoldColumn = 78;

std::string_view spfName(spf::Result result) {
  switch (result) {
    case spf::Result::None:
      return "none";
    case spf::Result::Neutral:
      return "neutral";
    case spf::Result::Pass:
      return "pass";
    case spf::Result::Fail:
      return "fail";
    case spf::Result::SoftFail:
      return "softfail";
    case spf::Result::TempError:
      return "temperror";
    case spf::Result::PermError:
      return "permerror";
  }
  return "permerror";
}

// RFC 2045 §5.1 tspecials.
bool isTspecial(char c) { return c != 0 && std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr; }

bool isTokenChar(char c) { return c > 0x20 && c < 0x7F && !isTspecial(c); }

bool isToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!isTokenChar(c)) {
      return false;
    }
  }
  return true;
}

bool isAtext(char c) {
  return ascii::isAlpha(static_cast<unsigned char>(c)) || ascii::isDigit(static_cast<unsigned char>(c)) ||
         (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

// RFC 5322 dot-atom-text.
bool isDotAtom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' || text.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : text) {
    if (c != '.' && !isAtext(c)) {
      return false;
    }
  }
  return true;
}

// RFC 6376 §3.5 domain-name: LDH sub-domains.
bool isDomainName(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' || text.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!(ascii::isAlpha(u) || ascii::isDigit(u) || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// At most kMaxValue bytes of well-formed UTF-8 without control characters.
std::string sanitized(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = utf8::sequenceLength(text, pos);
    const size_t take = length == 0 ? 1 : length;
    if (out.size() + take > kMaxValue) {
      break;
    }
    const auto c = static_cast<unsigned char>(text[pos]);
    if (length == 0 || c < 0x20 || c == 0x7F) {
      out.push_back('?');
    } else {
      out.append(text.substr(pos, length));
    }
    pos += take;
  }
  return out;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// RFC 8601 value = token / quoted-string.
std::string value(std::string_view raw) {
  const std::string text = sanitized(raw);
  return isToken(text) ? text : quoted(text);
}

// RFC 8601 pvalue = value / [ [ local-part ] "@" ] domain-name.
std::string pvalue(std::string_view raw) {
  const std::string text = sanitized(raw);
  if (isToken(text)) {
    return text;
  }
  const size_t at = text.rfind('@');
  if (at != std::string::npos && (at == 0 || isDotAtom(std::string_view(text).substr(0, at))) &&
      isDomainName(std::string_view(text).substr(at + 1))) {
    return text;
  }
  return quoted(text);
}

// Appends resinfo units, each on its own folded line(s).
class Writer {
 public:
  explicit Writer(std::string_view authserv_id) : out_("Authentication-Results: " + value(authserv_id)) {}

  // One resinfo: ";" then its parts (methodspec, reasonspec, propspecs) separated by a space,
  // or by CRLF TAB when the line would pass kFoldColumn.
  void resinfo(const std::vector<std::string>& parts) {
    out_ += ";";
    size_t column = kFoldColumn;  // forces the first part onto a new line
    for (const std::string& part : parts) {
      if (column + 1 + part.size() + 1 > kFoldColumn) {
        out_ += "\r\n\t";
        column = 1;
      } else {
        out_ += ' ';
        ++column;
      }
      out_ += part;
      column += part.size();
    }
  }

  std::string finish() { return out_ + "\r\n"; }

 private:
  std::string out_;
};

// The authserv-id at the start of an Authentication-Results field body (after CFWS),
// unquoted; "" when there is none.
std::string authservId(std::string_view body) {
  size_t pos = 0;
  for (;;) {
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t' || body[pos] == '\r' || body[pos] == '\n')) {
      ++pos;
    }
    if (pos >= body.size() || body[pos] != '(') {
      break;
    }
    int depth = 0;
    while (pos < body.size()) {
      const char c = body[pos];
      if (c == '\\') {
        pos += 2;
        continue;
      }
      ++pos;
      depth += c == '(' ? 1 : (c == ')' ? -1 : 0);
      if (depth == 0) {
        break;
      }
    }
  }
  std::string id;
  if (pos < body.size() && body[pos] == '"') {
    for (++pos; pos < body.size() && body[pos] != '"'; ++pos) {
      if (body[pos] == '\\' && pos + 1 < body.size()) {
        ++pos;
      }
      id.push_back(body[pos]);
    }
    return id;
  }
  while (pos < body.size() && isTokenChar(body[pos])) {
    id.push_back(body[pos++]);
  }
  return id;
}

}  // namespace

std::string buildAuthenticationResults(std::string_view authserv_id, const AuthFacts& facts) {
  Writer writer(authserv_id);

  std::vector<std::string> spf = {"spf=" + std::string(spfName(facts.spf.result))};
  if (facts.spf.result != spf::Result::Pass && !facts.spf.problem.empty()) {
    spf.push_back("reason=" + value(facts.spf.problem));
  }
  spf.push_back(facts.mail_from.empty() ? "smtp.helo=" + pvalue(facts.helo) : "smtp.mailfrom=" + pvalue(facts.mail_from));
  writer.resinfo(spf);

  if (facts.dkim.empty()) {
    writer.resinfo({"dkim=none"});
  }
  for (const DkimSignature& signature : facts.dkim) {
    std::vector<std::string> dkim = {"dkim=" + std::string(name(signature.result))};
    if (signature.result != DkimResult::Pass && !signature.reason.empty()) {
      dkim.push_back("reason=" + value(signature.reason));
    }
    dkim.push_back("header.d=" + pvalue(signature.domain));
    dkim.push_back("header.s=" + value(signature.selector));
    if (!signature.header_b.empty()) {
      dkim.push_back("header.b=" + value(signature.header_b));
    }
    writer.resinfo(dkim);
  }

  std::string method = "dmarc=" + std::string(name(facts.dmarc.result));
  if (!facts.dmarc.policy.empty()) {
    method += " (policy=" + facts.dmarc.policy + ")";
  }
  std::vector<std::string> dmarc = {method};
  if (facts.dmarc.result != DmarcResult::Pass && !facts.dmarc.reason.empty()) {
    dmarc.push_back("reason=" + value(facts.dmarc.reason));
  }
  if (!facts.dmarc.from_domain.empty()) {
    dmarc.push_back("header.from=" + pvalue(facts.dmarc.from_domain));
  }
  writer.resinfo(dmarc);
  return writer.finish();
}

ForgedFieldStripper::ForgedFieldStripper(std::vector<std::string> authserv_ids)
    : authserv_ids_(std::move(authserv_ids)) {}

void ForgedFieldStripper::feed(std::string_view in, std::string& out) {
  size_t pos = 0;
  for (; pos < in.size() && in_headers_; ++pos) {
    const char c = in[pos];
    switch (scanHeaderByte(scan_, c)) {
      case HeaderByte::FieldStart:
        finishField(out);
        kind_ = FieldKind::Name;
        candidate_ = ascii::toLower(c) == 'x' ? kOwnPrefix : kFieldName;
        break;
      case HeaderByte::SectionEnd:
        finishField(out);  // the empty line's CR
        out.push_back(c);
        in_headers_ = false;
        continue;
      case HeaderByte::InField:
      case HeaderByte::Body:
        break;
    }
    switch (kind_) {
      case FieldKind::Passing:
        out.push_back(c);
        break;
      case FieldKind::AuthResults:
        field_.push_back(c);
        break;
      case FieldKind::Own:
        break;
      case FieldKind::Name:
        readName(c, out);
        break;
    }
  }
  out.append(in.substr(pos));
}

// The next byte of a field name that may still be candidate_: "Authentication-Results"
// followed by optional WSP and ':', or anything starting with "X-Mxgate-".
void ForgedFieldStripper::readName(char c, std::string& out) {
  const size_t at = field_.size();
  if (candidate_ == kFieldName && c == ':' && at >= kFieldName.size()) {
    field_.push_back(c);
    kind_ = FieldKind::AuthResults;
  } else if (at < candidate_.size() ? ascii::toLower(c) == ascii::toLower(candidate_[at])
                                    : candidate_ == kFieldName && (c == ' ' || c == '\t')) {
    field_.push_back(c);
    if (candidate_ == kOwnPrefix && field_.size() == kOwnPrefix.size()) {
      field_.clear();
      kind_ = FieldKind::Own;
      ++removed_own_fields_;
    }
  } else {
    out += field_;
    out.push_back(c);
    field_.clear();
    kind_ = FieldKind::Passing;
  }
}

void ForgedFieldStripper::finish(std::string& out) {
  if (in_headers_) {
    finishField(out);
  }
}

bool ForgedFieldStripper::ours(std::string_view authserv_id) const {
  for (const std::string& id : authserv_ids_) {
    if (!id.empty() && ascii::equalsIgnoreCase(authserv_id, id)) {
      return true;
    }
  }
  return false;
}

void ForgedFieldStripper::finishField(std::string& out) {
  if (kind_ == FieldKind::AuthResults && ours(authservId(unfoldedBody(field_)))) {
    ++removed_auth_results_;
  } else {
    out += field_;
  }
  field_.clear();
  kind_ = FieldKind::Passing;
}

}  // namespace mxgate::auth
