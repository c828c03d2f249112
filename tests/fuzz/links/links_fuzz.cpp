// libFuzzer target for link rewriting and verification: the input is taken as a whole message
// (rewriteMessage in SafeLinks, Track and OpenPixel mode, the latter with an outbound context), as
// an HTML part, as a text part, as a signed-link path (verifyLink for /l/, /o/ and /u/) and as
// an outbound link's tags and metadata (signed, then verified). Invariants (trap on failure): never more
// links than max_links, consecutive indices, the text rewrite undone by its own verified
// links gives the input back, an unchanged result is the input, a verified path re-signs to
// itself, a changed message has a body, and a context of well-formed UTF-8 that fits comes back
// from verification as it was signed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"
#include "mxgate/links/rewriter.h"

namespace {

using namespace mxgate::links;

constexpr std::string_view kHost = "links.example.test";
constexpr std::string_view kQueueId = "Q1";
constexpr uint32_t kMaxLinks = 50;

const Key& key() {
  static const Key k{"fz", std::string(32, 'k')};
  return k;
}

Settings settings(Mode mode) {
  Settings s;
  s.mode = mode;
  s.host = std::string(kHost);
  s.key = &key();
  s.allow_hosts = {"allowed.example"};
  s.max_links = kMaxLinks;
  return s;
}

// Replaces every link of ours in text that verifies by its target; checks their indices run
// from 1 upwards in order.
std::string undo(std::string_view text, uint32_t& count) {
  const std::string prefix = "https://" + std::string(kHost) + "/l/";
  const KeyRing ring{{key()}};
  std::string out;
  size_t copied = 0;
  size_t pos = text.find(prefix);
  while (pos != std::string_view::npos) {
    size_t end = pos + prefix.size();
    while (end < text.size() && (mxgate::ascii::isAlpha(static_cast<unsigned char>(text[end])) ||
                                 mxgate::ascii::isDigit(static_cast<unsigned char>(text[end])) || text[end] == '-' ||
                                 text[end] == '_' || text[end] == '/')) {
      ++end;
    }
    const Verified verified = verifyLink('l', text.substr(pos + prefix.size(), end - pos - prefix.size()), ring);
    if (verified.status != VerifyStatus::Ok) {
      pos = text.find(prefix, pos + 1);  // the path may run into a link of ours ("/l/https://...")
      continue;
    }
    if (verified.target.queue_id != kQueueId || verified.target.index != count + 1) {
      __builtin_trap();
    }
    ++count;
    out.append(text.substr(copied, pos - copied));
    out += verified.target.url;
    copied = end;
    pos = text.find(prefix, end);
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  for (Mode mode : {Mode::SafeLinks, Mode::Track, Mode::OpenPixel}) {
    Settings with = settings(mode);
    if (mode == Mode::OpenPixel) {
      with.context = Context{true, {"tag"}, {{"k", "v"}}};
    }
    const Result result = rewriteMessage(input, kQueueId, with);
    if (result.rewritten > kMaxLinks || result.changed == result.message.empty() ||
        (!result.changed && result.rewritten != 0)) {
      __builtin_trap();
    }
  }

  const std::vector<std::string> skip{"https://skip.example/"};
  uint32_t next_index = 1;
  const std::string html = rewriteHtml(input, kQueueId, settings(Mode::SafeLinks), skip, next_index);
  if (next_index - 1 > kMaxLinks || (next_index == 1 && html != input)) {
    __builtin_trap();
  }
  uint32_t undone = 0;
  undo(html, undone);
  if (undone != next_index - 1) {
    __builtin_trap();
  }

  next_index = 1;
  const std::string text = rewriteText(input, kQueueId, settings(Mode::SafeLinks), skip, next_index);
  undone = 0;
  if (next_index - 1 > kMaxLinks || undo(text, undone) != input || undone != next_index - 1) {
    __builtin_trap();
  }

  const KeyRing ring{{key()}};
  if (mxgate::utf8::isWellFormed(input)) {
    const LinkTarget target{"someone@example.test", std::string(kQueueId), 0, "t",
                            Context{true, {std::string(input)}, {{"k", std::string(input)}}}};
    const std::string link = signLink('u', kHost, key(), target);
    const std::string prefix = "https://" + std::string(kHost) + "/u/";
    const Verified verified = verifyLink('u', std::string_view(link).substr(prefix.size()), ring);
    if (verified.status != VerifyStatus::Ok ||
        (contextFits(target.context) ? !(verified.target == target)
                                     : !(verified.target.context == Context{true, {}, {}}))) {
      __builtin_trap();
    }
  }
  for (char kind : {'l', 'o', 'u'}) {
    const Verified verified = verifyLink(kind, input, ring);
    if (verified.status == VerifyStatus::Ok &&
        signLink(kind, kHost, key(), verified.target) != "https://" + std::string(kHost) + "/" + kind + "/" + std::string(input)) {
      __builtin_trap();
    }
    if (verified.status == VerifyStatus::Malformed && !(verified.target == LinkTarget{})) {
      __builtin_trap();
    }
  }
  return 0;
}
