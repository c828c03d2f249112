// Thread hints for the inbound payload: the tenant's ticket pattern (a Perl-compatible
// expression compiled by GLib's GRegex), the hints a helpdesk threads on (the subject's ticket
// tag, the RFC 5322 §3.6.4 In-Reply-To and References ids, the RFC 5233 plus-address tag of each
// envelope recipient) and the normalized subject (reply/forward prefixes of common clients
// and the ticket tag removed; RFC 5322 §3.6.5 "Re:" and its translations).
//
// A TicketPattern is immutable after construction; GRegex matching on a shared GRegex is
// thread-safe (each call has its own GMatchInfo). Pure functions; any thread (payload lane).
#include <glib.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"
#include "mxgate/payload/inbound.h"

namespace mxgate::payload {
namespace {

constexpr size_t kMaxHints = 50;

// Reply and forward prefixes (compared without regard to case): English Re/Fwd/Fw, German
// AW/WG, Scandinavian SV/VS, Dutch Antw, Italian Rif/R, Portuguese Enc, French TR, Spanish RV.
constexpr std::array<std::string_view, 13> kPrefixes = {"Re",   "Fwd", "Fw", "AW",  "WG", "SV", "VS",
                                                        "Antw", "Rif", "R",  "Enc", "TR", "RV"};

GRegex* compile(const std::string& pattern, std::string& error) {
  GError* failure = nullptr;
  GRegex* regex = g_regex_new(pattern.c_str(), G_REGEX_OPTIMIZE, static_cast<GRegexMatchFlags>(0), &failure);
  if (regex == nullptr) {
    error = failure != nullptr ? failure->message : "invalid regular expression";
    g_clear_error(&failure);
  }
  return regex;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

size_t skipSpace(std::string_view text, size_t pos) {
  while (pos < text.size() && isSpace(text[pos])) {
    ++pos;
  }
  return pos;
}

// Length of one reply/forward prefix at the start of text ("Re:", "AW :", "Re[2]:", with the
// white space before it), or 0.
size_t prefixLength(std::string_view text) {
  const size_t start = skipSpace(text, 0);
  for (std::string_view word : kPrefixes) {
    if (!ascii::startsWithIgnoreCase(text.substr(start), word)) {
      continue;
    }
    size_t pos = skipSpace(text, start + word.size());
    if (pos < text.size() && text[pos] == '[') {
      size_t digits = pos + 1;
      while (digits < text.size() && ascii::isDigit(static_cast<unsigned char>(text[digits]))) {
        ++digits;
      }
      if (digits == pos + 1 || digits == text.size() || text[digits] != ']') {
        continue;
      }
      pos = skipSpace(text, digits + 1);
    }
    if (pos < text.size() && text[pos] == ':') {
      return pos + 1;
    }
  }
  return 0;
}

std::string_view stripPrefixes(std::string_view text) {
  for (size_t length = prefixLength(text); length != 0; length = prefixLength(text)) {
    text.remove_prefix(length);
  }
  return text;
}

std::string collapseSpace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = skipSpace(text, 0); pos < text.size();) {
    if (isSpace(text[pos])) {
      pos = skipSpace(text, pos);
      if (pos < text.size()) {
        out.push_back(' ');
      }
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

std::string normalizeSubject(std::string_view subject, const TicketPattern& pattern) {
  const std::string untagged = pattern.removeMatches(stripPrefixes(subject));
  return collapseSpace(stripPrefixes(untagged));
}

// RFC 5233 subaddress: what follows the first '+' of the local part; "" when none.
std::string_view plusTag(std::string_view address) {
  const size_t at = address.rfind('@');
  const std::string_view local = address.substr(0, at);
  const size_t plus = local.find('+');
  return plus == std::string_view::npos ? std::string_view() : local.substr(plus + 1);
}

}  // namespace

TicketPattern::TicketPattern(const std::string& pattern) {
  if (pattern.empty()) {
    return;
  }
  std::string error;
  GRegex* regex = compile(pattern, error);
  if (regex == nullptr) {
    throw std::invalid_argument("invalid ticket pattern: " + error);
  }
  regex_ = regex;
  has_group_ = g_regex_get_capture_count(regex) > 0;
}

TicketPattern::~TicketPattern() {
  if (regex_ != nullptr) {
    g_regex_unref(static_cast<GRegex*>(regex_));
  }
}

std::string TicketPattern::find(std::string_view text) const {
  // GRegex works on UTF-8 text; malformed text holds no ticket id.
  if (regex_ == nullptr || text.empty() || !utf8::isWellFormed(text)) {
    return {};
  }
  GMatchInfo* match = nullptr;
  std::string out;
  if (g_regex_match_full(static_cast<GRegex*>(regex_), text.data(), static_cast<gssize>(text.size()), 0,
                         static_cast<GRegexMatchFlags>(0), &match, nullptr)) {
    gint start = -1;
    gint end = -1;
    if (g_match_info_fetch_pos(match, has_group_ ? 1 : 0, &start, &end) && start >= 0 && end >= start) {
      std::string_view id = text.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
      if (!has_group_ && id.size() >= 2 && id.front() == '[' && id.back() == ']') {
        id = id.substr(1, id.size() - 2);
      }
      out.assign(id);
    }
  }
  g_match_info_free(match);
  return out;
}

std::string TicketPattern::removeMatches(std::string_view text) const {
  if (regex_ == nullptr || text.empty() || !utf8::isWellFormed(text)) {
    return std::string(text);
  }
  gchar* replaced = g_regex_replace_literal(static_cast<GRegex*>(regex_), text.data(), static_cast<gssize>(text.size()),
                                            0, "", static_cast<GRegexMatchFlags>(0), nullptr);
  if (replaced == nullptr) {
    return std::string(text);
  }
  std::string out(replaced);
  g_free(replaced);
  return out;
}

Thread threadHints(const mime::Message& message, const std::vector<std::string>& rcpt_to,
                   const TicketPattern& pattern) {
  Thread thread;
  thread.ticket = pattern.find(message.subject);
  if (!thread.ticket.empty()) {
    thread.hints.push_back(ThreadHint{thread.ticket, "subject"});
  }
  for (const std::string& id : message.in_reply_to) {
    if (thread.hints.size() < kMaxHints) {
      thread.hints.push_back(ThreadHint{id, "in_reply_to"});
    }
  }
  for (const std::string& id : message.references) {
    if (thread.hints.size() < kMaxHints) {
      thread.hints.push_back(ThreadHint{id, "references"});
    }
  }
  std::vector<std::string_view> tags;
  for (const std::string& recipient : rcpt_to) {
    const std::string_view tag = plusTag(recipient);
    if (tag.empty() || std::find(tags.begin(), tags.end(), tag) != tags.end()) {
      continue;
    }
    tags.push_back(tag);
    if (thread.hints.size() < kMaxHints) {
      thread.hints.push_back(ThreadHint{std::string(tag), "plus_address"});
    }
  }
  for (size_t i = 0; i < tags.size() && thread.ticket.empty(); ++i) {
    thread.ticket = pattern.find("[" + std::string(tags[i]) + "]");
    if (thread.ticket.empty()) {
      thread.ticket = pattern.find(tags[i]);
    }
  }
  thread.subject_normalized = normalizeSubject(message.subject, pattern);
  return thread;
}

}  // namespace mxgate::payload
