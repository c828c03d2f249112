// The RFC5322.From domain for DMARC (RFC 7489 §3.1, §6.6.1): exactly one From field (RFC 5322
// §3.6.2, names compared case-insensitively, §4.5 WSP before the colon tolerated) holding
// exactly one mailbox. The field body is parsed with the RFC 5322 §3.4 address grammar:
// display names of atoms and quoted strings (RFC 2047 encoded-words are atoms, dots allowed as
// in §4.1 obs-phrase), nested comments, angle-addr, and RFC 6854 groups. One leniency, which
// never makes the domain ambiguous: a display name written before a bare addr-spec
// ("\"Joe\" joe@example.com") is accepted. The domain must be a host name (letters, digits,
// '-', '_', UTF-8), one trailing root dot is dropped, and it is lower-cased. The same grammar
// reads every From and Sender mailbox for sender binding (sender_domains.h). Pure; any thread.
#include <cstring>
#include <vector>

#include "header_fields.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/auth/sender_domains.h"
#include "tag_list.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::auth {
namespace {

constexpr size_t kMaxDomain = 255;  // RFC 5321 §4.5.3.1.2

struct Token {
  enum class Kind { Word, Quoted, Literal, Special, End };
  Kind kind = Kind::End;
  char special = 0;  // for Special: one of < > @ , ; :
  std::string_view text;
};

bool isAtext(unsigned char c) {
  return ascii::isAlpha(c) || ascii::isDigit(c) || c >= 0x80 || (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~.", c) != nullptr);
}

// Splits the unfolded field body into tokens, skipping whitespace and (nested) comments.
// Returns false on text that is not RFC 5322 syntax (unterminated quotes, comments or
// literals, stray specials, control characters).
bool tokenize(std::string_view text, std::vector<Token>& tokens) {
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c == ' ' || c == '\t') {
      ++pos;
    } else if (c == '(') {
      int depth = 0;
      do {
        if (pos >= text.size()) {
          return false;
        }
        const char d = text[pos];
        if (d == '\\') {
          pos += 2;
          continue;
        }
        depth += d == '(' ? 1 : (d == ')' ? -1 : 0);
        ++pos;
      } while (depth > 0);
    } else if (c == '"' || c == '[') {
      const char close = c == '"' ? '"' : ']';
      const size_t start = pos++;
      while (pos < text.size() && text[pos] != close) {
        if (c == '[' && text[pos] == '[') {
          return false;
        }
        pos += text[pos] == '\\' ? 2 : 1;
      }
      if (pos >= text.size()) {
        return false;
      }
      ++pos;
      tokens.push_back({c == '"' ? Token::Kind::Quoted : Token::Kind::Literal, 0, text.substr(start, pos - start)});
    } else if (std::strchr("<>@,;:", static_cast<int>(c)) != nullptr && c != 0) {
      tokens.push_back({Token::Kind::Special, static_cast<char>(c), text.substr(pos, 1)});
      ++pos;
    } else if (isAtext(c)) {
      const size_t start = pos;
      while (pos < text.size() && isAtext(static_cast<unsigned char>(text[pos]))) {
        ++pos;
      }
      tokens.push_back({Token::Kind::Word, 0, text.substr(start, pos - start)});
    } else {
      return false;
    }
  }
  tokens.push_back({Token::Kind::End, 0, {}});
  return true;
}

class AddressParser {
 public:
  explicit AddressParser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  // address-list (RFC 5322 §3.4, with §4.4 empty elements); false on a syntax error.
  bool parseList() {
    while (!at(Token::Kind::End)) {
      if (isSpecial(',')) {
        ++pos_;
        continue;
      }
      if (!parseAddress() || !(isSpecial(',') || at(Token::Kind::End))) {
        return false;
      }
    }
    return true;
  }

  const std::vector<std::string_view>& domains() const { return domains_; }

 private:
  bool at(Token::Kind kind) const { return tokens_[pos_].kind == kind; }
  bool isSpecial(char c) const { return at(Token::Kind::Special) && tokens_[pos_].special == c; }
  bool isWord() const { return at(Token::Kind::Word) || at(Token::Kind::Quoted); }

  bool parseAddress() {
    const size_t start = pos_;
    while (isWord()) {
      ++pos_;
    }
    if (pos_ > start && isSpecial(':')) {  // group: display-name ":" [group-list] ";"
      ++pos_;
      for (;;) {
        if (isSpecial(';')) {
          ++pos_;
          return true;
        }
        if (isSpecial(',')) {
          ++pos_;
          continue;
        }
        if (!parseMailbox() || !(isSpecial(',') || isSpecial(';'))) {
          return false;
        }
      }
    }
    pos_ = start;
    return parseMailbox();
  }

  // mailbox = name-addr / addr-spec, with a display name tolerated before a bare addr-spec.
  bool parseMailbox() {
    const size_t start = pos_;
    while (isWord()) {
      ++pos_;
    }
    if (isSpecial('<')) {
      ++pos_;
      const size_t local = pos_;
      while (isWord()) {
        ++pos_;
      }
      if (pos_ == local || !isSpecial('@')) {
        return false;
      }
      ++pos_;
      if (!at(Token::Kind::Word) && !at(Token::Kind::Literal)) {
        return false;
      }
      domains_.push_back(tokens_[pos_++].text);
      if (!isSpecial('>')) {
        return false;
      }
      ++pos_;
      return true;
    }
    if (pos_ == start || !isSpecial('@')) {
      return false;
    }
    ++pos_;
    if (!at(Token::Kind::Word) && !at(Token::Kind::Literal)) {
      return false;
    }
    domains_.push_back(tokens_[pos_++].text);
    return true;
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  std::vector<std::string_view> domains_;
};

// A host name as DMARC can look it up: non-empty labels of letters, digits, '-', '_' or
// well-formed UTF-8, one optional trailing dot.
bool normalizeDomain(std::string_view text, std::string& domain) {
  if (text.ends_with('.')) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > kMaxDomain || text.front() == '.' || text.back() == '.' ||
      text.find("..") != std::string_view::npos || !utf8::isWellFormed(text)) {
    return false;
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!(ascii::isAlpha(u) || ascii::isDigit(u) || c == '-' || c == '_' || c == '.' || u >= 0x80)) {
      return false;
    }
  }
  domain = ascii::toLowerCopy(text);
  return true;
}

// The normalized domains of every mailbox of an address-list field; false when unreadable.
bool mailboxDomains(std::string_view field, std::vector<std::string>& domains) {
  const std::string body = unfoldedBody(field);
  std::vector<Token> tokens;
  AddressParser parser(tokens);
  if (!tokenize(body, tokens) || !parser.parseList() || parser.domains().empty()) {
    return false;
  }
  for (std::string_view text : parser.domains()) {
    std::string domain;
    if (!normalizeDomain(text, domain)) {
      return false;
    }
    domains.push_back(std::move(domain));
  }
  return true;
}

}  // namespace

FromDomain extractFromDomain(std::string_view header_section) {
  std::vector<std::string_view> from_fields;
  forEachHeaderField(header_section, [&from_fields](std::string_view name, std::string_view field) {
    if (ascii::equalsIgnoreCase(name, "From")) {
      from_fields.push_back(field);
    }
  });

  FromDomain result;
  if (from_fields.empty()) {
    result.status = FromDomain::Status::Missing;
    return result;
  }
  if (from_fields.size() > 1) {
    result.status = FromDomain::Status::Multiple;
    return result;
  }
  const std::string body = unfoldedBody(from_fields.front());
  std::vector<Token> tokens;
  AddressParser parser(tokens);
  if (!tokenize(body, tokens) || !parser.parseList() || parser.domains().empty()) {
    result.status = FromDomain::Status::Unparseable;
    return result;
  }
  if (parser.domains().size() > 1) {
    result.status = FromDomain::Status::Multiple;
    return result;
  }
  result.status = normalizeDomain(parser.domains().front(), result.domain) ? FromDomain::Status::Ok
                                                                           : FromDomain::Status::Unparseable;
  return result;
}

SenderDomains extractSenderDomains(std::string_view header_section) {
  SenderDomains found;
  forEachHeaderField(header_section, [&found](std::string_view name, std::string_view field) {
    bool readable = true;
    if (ascii::equalsIgnoreCase(name, "From")) {
      readable = mailboxDomains(field, found.from);
    } else if (ascii::equalsIgnoreCase(name, "Sender")) {
      readable = mailboxDomains(field, found.sender);
    } else if (ascii::equalsIgnoreCase(name, "DKIM-Signature")) {
      const std::string body = unfoldedBody(field);
      const TagList tags = parseTagList(body);
      const Tag* d = tags.find("d");
      std::string domain;
      readable = tags.valid() && d != nullptr && normalizeDomain(withoutFoldingWhitespace(d->value), domain);
      if (readable) {
        found.dkim.push_back(std::move(domain));
      }
    } else {
      return;
    }
    if (!readable && found.unreadable.empty()) {
      found.unreadable = std::string(name);
    }
  });
  return found;
}

}  // namespace mxgate::auth
