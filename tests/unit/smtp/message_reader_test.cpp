// Tests for smtp/message_reader: DotReader (RFC 5321 §4.1.1.4 end of data, §4.5.2
// un-stuffing), ContentFilter (bare CR/LF, NUL, header size, Received: count) and DotStuffer.
// The smuggling cases are read from shared/corpora/smtp-abuse/smtp-abuse-cases.yaml (research
// T08). Every input is also fed split at every position and one byte at a time, and must give
// exactly the same result.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mxgate/smtp/message_reader.h"

using mxgate::config::BareNewline;
using mxgate::smtp::ContentFilter;
using mxgate::smtp::ContentPolicy;
using mxgate::smtp::ContentViolation;
using mxgate::smtp::DotReader;
using mxgate::smtp::DotStuffer;

namespace mxgate::smtp {
std::ostream& operator<<(std::ostream& os, ContentViolation v) { return os << static_cast<int>(v); }
}  // namespace mxgate::smtp

namespace {

std::string escaped(std::string_view bytes) {
  std::ostringstream os;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      os << "\\r";
    } else if (c == '\n') {
      os << "\\n";
    } else if (c < 0x20 || c >= 0x7F) {
      os << "\\x" << std::hex << static_cast<int>(c) << std::dec;
    } else {
      os << ch;
    }
  }
  return os.str();
}

// ---- The smtp-abuse corpus ------------------------------------------------------------

std::string decodeYamlDoubleQuoted(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    BOOST_TEST_REQUIRE(i + 1 < text.size());
    const char e = text[++i];
    switch (e) {
      case 'r': out.push_back('\r'); break;
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case '0': out.push_back('\0'); break;
      case '\\': out.push_back('\\'); break;
      case '"': out.push_back('"'); break;
      case 'x':
        BOOST_TEST_REQUIRE(i + 2 < text.size());
        out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
        break;
      default:
        BOOST_FAIL("unsupported YAML escape \\" << e);
    }
  }
  return out;
}

// The `send:` strings of one case, with the placeholders substituted. The corpus writes them
// either as a flow list on the `send:` line or as a block list below it; both end at the
// next key of the case ("\n  <key>:").
std::vector<std::string> sendOf(std::string_view id) {
  static const std::string yaml = [] {
    std::ifstream in(MXGATE_SHARED_DIR "/corpora/smtp-abuse/smtp-abuse-cases.yaml", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  const size_t case_start = yaml.find("- id: " + std::string(id) + "\n");
  BOOST_TEST_REQUIRE(case_start != std::string::npos, "case " << id << " not in the corpus");
  const size_t send = yaml.find("\n  send:", case_start);
  BOOST_TEST_REQUIRE(send != std::string::npos);
  size_t end = send + 1;
  do {
    end = yaml.find("\n  ", end + 1);
    BOOST_TEST_REQUIRE(end != std::string::npos);
  } while (yaml[end + 3] == '-');
  std::vector<std::string> strings;
  for (size_t pos = yaml.find('"', send); pos < end; pos = yaml.find('"', pos)) {
    size_t close = pos + 1;
    while (yaml[close] != '"') {
      close += yaml[close] == '\\' ? 2 : 1;
    }
    std::string value = decodeYamlDoubleQuoted(std::string_view(yaml).substr(pos + 1, close - pos - 1));
    for (const auto& [placeholder, replacement] :
         {std::pair<std::string, std::string>{"{RCPT}", "rcpt@tenant.example"}, {"{SMUG}", "smug@victim.example"}}) {
      for (size_t at = value.find(placeholder); at != std::string::npos; at = value.find(placeholder)) {
        value.replace(at, placeholder.size(), replacement);
      }
    }
    strings.push_back(std::move(value));
    pos = close + 1;
  }
  BOOST_TEST_REQUIRE(!strings.empty());
  return strings;
}

// ---- Running the stages, whole and split ----------------------------------------------

enum class Stage {
  Dots,     // DotReader alone
  Data,     // DotReader then ContentFilter (DATA)
  Content,  // ContentFilter alone (BDAT)
  Stuff,    // DotStuffer, then finish()
};

struct Outcome {
  std::string output;
  size_t consumed = 0;
  bool done = false;
  ContentViolation violation = ContentViolation::None;
  size_t header_bytes = 0;
  uint32_t received = 0;
  bool in_headers = true;
  uint64_t output_bytes = 0;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{output=\"" << escaped(o.output) << "\" consumed=" << o.consumed << " done=" << o.done
            << " violation=" << o.violation << " header_bytes=" << o.header_bytes << " received=" << o.received
            << " in_headers=" << o.in_headers << " output_bytes=" << o.output_bytes << "}";
}

ContentPolicy policy(BareNewline mode, bool reject_nul = true) {
  ContentPolicy p;
  p.bare_newline = mode;
  p.reject_nul = reject_nul;
  return p;
}

const ContentPolicy kReject = policy(BareNewline::Reject);
const ContentPolicy kNormalize = policy(BareNewline::Normalize);

Outcome run(Stage stage, const std::vector<std::string_view>& pieces, const ContentPolicy& content_policy) {
  Outcome o;
  DotReader reader;
  ContentFilter filter(content_policy);
  DotStuffer stuffer;
  std::string unstuffed;
  for (std::string_view piece : pieces) {
    switch (stage) {
      case Stage::Dots:
        if (!reader.done()) {
          o.consumed += reader.feed(piece, o.output);
        }
        break;
      case Stage::Data:
        if (!reader.done()) {
          unstuffed.clear();
          o.consumed += reader.feed(piece, unstuffed);
          filter.feed(unstuffed, o.output);
        }
        break;
      case Stage::Content:
        o.consumed += piece.size();
        filter.feed(piece, o.output);
        break;
      case Stage::Stuff:
        o.consumed += piece.size();
        stuffer.feed(piece, o.output);
        break;
    }
  }
  o.done = reader.done();
  if (stage == Stage::Stuff) {
    stuffer.finish(o.output);
  }
  if (stage == Stage::Content || (stage == Stage::Data && o.done)) {
    filter.finish(o.output);
  }
  if (stage == Stage::Data || stage == Stage::Content) {
    o.violation = filter.violation();
    o.header_bytes = filter.headerBytes();
    o.received = filter.receivedCount();
    o.in_headers = filter.inHeaders();
    o.output_bytes = filter.outputBytes();
    BOOST_TEST(o.output_bytes == o.output.size());
  }
  return o;
}

// Runs `input` whole, split into two feeds at every position, and one byte per feed; all
// must agree. Returns the whole-input outcome.
Outcome runAllSplits(Stage stage, std::string_view input, const ContentPolicy& content_policy = kReject) {
  const Outcome whole = run(stage, {input}, content_policy);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const Outcome split = run(stage, {input.substr(0, cut), input.substr(cut)}, content_policy);
    if (!(split == whole)) {
      BOOST_ERROR("split at " << cut << " of \"" << escaped(input) << "\": " << split << " != " << whole);
      break;
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) {
    bytes.push_back(input.substr(i, 1));
  }
  const Outcome bytewise = run(stage, bytes, content_policy);
  BOOST_TEST(bytewise == whole, "byte-by-byte feed of \"" << escaped(input) << "\"");
  return whole;
}

bool hasBareCrOrLf(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
      return true;
    }
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      return true;
    }
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dot_reader)

// The smuggling cases of the corpus: end-of-data look-alikes followed by a second transaction.
BOOST_AUTO_TEST_CASE(smuggling_cases_end_only_at_crlf_dot_crlf) {
  const std::vector<std::pair<std::string_view, ContentViolation>> cases = {
      {"smug-lf-dot-lf", ContentViolation::BareLf},         {"smug-lf-dot-cr", ContentViolation::BareLf},
      {"smug-cr-dot-lf", ContentViolation::BareCr},         {"smug-cr-dot-cr", ContentViolation::BareCr},
      {"smug-lf-dot-crlf", ContentViolation::BareLf},       {"smug-cr-dot-crlf", ContentViolation::BareCr},
      {"smug-crlf-dot-crcrlf", ContentViolation::BareCr},   {"smug-crcrlf-dot-crcrlf", ContentViolation::BareCr},
      {"smug-nul-dot", ContentViolation::Nul},
  };
  for (const auto& [id, violation] : cases) {
    BOOST_TEST_CONTEXT("case " << id) {
      const std::vector<std::string> send = sendOf(id);
      BOOST_TEST_REQUIRE(send.size() == 2u);
      BOOST_TEST_REQUIRE(send[1] == "QUIT\r\n");
      const std::string data = send[0];
      const std::string wire = send[0] + send[1];
      // The real terminator is the last 5 bytes of the DATA segment; the fake one is earlier.
      BOOST_TEST_REQUIRE(data.substr(data.size() - 5) == "\r\n.\r\n");

      const Outcome rejected = runAllSplits(Stage::Data, wire, kReject);
      BOOST_TEST(rejected.done);
      BOOST_TEST(rejected.consumed == data.size());
      BOOST_TEST(rejected.violation == violation);

      const Outcome normalized = runAllSplits(Stage::Data, wire, policy(BareNewline::Normalize, false));
      BOOST_TEST(normalized.done);
      BOOST_TEST(normalized.consumed == data.size());
      BOOST_TEST(normalized.violation == ContentViolation::None);
      BOOST_TEST(!hasBareCrOrLf(normalized.output));
      BOOST_TEST(normalized.output.find("MAIL FROM:<admin@example.org>\r\n") != std::string::npos);
      BOOST_TEST(normalized.output.find("RCPT TO:<smug@victim.example>\r\n") != std::string::npos);
      BOOST_TEST(normalized.output.find("\r\nDATA\r\n") != std::string::npos);
      BOOST_TEST(normalized.output.ends_with("\r\n"));

      const Outcome strict_nul = runAllSplits(Stage::Data, wire, policy(BareNewline::Normalize, true));
      BOOST_TEST(strict_nul.done);
      BOOST_TEST(strict_nul.consumed == data.size());
      BOOST_TEST(strict_nul.violation ==
                 (violation == ContentViolation::Nul ? ContentViolation::Nul : ContentViolation::None));
    }
  }
}

// T08 lists two more look-alikes that are not in the corpus: <CRLF>.<LF> and <CRLF>.<CR>.
BOOST_AUTO_TEST_CASE(t08_extra_variants) {
  const std::string tail = "MAIL FROM:<admin@example.org>\r\nRCPT TO:<smug@victim.example>\r\nDATA\r\nx\r\n.\r\n";
  for (const auto& [fake, violation] : {std::pair<std::string, ContentViolation>{"\r\n.\n", ContentViolation::BareLf},
                                        {"\r\n.\r", ContentViolation::BareCr}}) {
    const std::string data = "Subject: one\r\n\r\nfirst body" + fake + tail;
    const Outcome rejected = runAllSplits(Stage::Data, data + "QUIT\r\n", kReject);
    BOOST_TEST(rejected.done);
    BOOST_TEST(rejected.consumed == data.size());
    BOOST_TEST(rejected.violation == violation);
    const Outcome normalized = runAllSplits(Stage::Data, data + "QUIT\r\n", kNormalize);
    BOOST_TEST(normalized.done);
    BOOST_TEST(normalized.consumed == data.size());
    BOOST_TEST(!hasBareCrOrLf(normalized.output));
    BOOST_TEST(normalized.output.find("MAIL FROM:<admin@example.org>\r\n") != std::string::npos);
  }
}

// dot-stuffing-inbound: one leading dot is removed from each line that starts with a dot.
BOOST_AUTO_TEST_CASE(abuse_dot_stuffing_inbound) {
  const std::vector<std::string> send = sendOf("dot-stuffing-inbound");
  BOOST_TEST_REQUIRE(send.size() == 1u);
  const Outcome o = runAllSplits(Stage::Data, send[0]);
  BOOST_TEST(o.done);
  BOOST_TEST(o.consumed == send[0].size());
  BOOST_TEST(o.violation == ContentViolation::None);
  BOOST_TEST(o.output == "Subject: dots\r\n\r\n.leading dot\r\n..\r\n");
}

BOOST_AUTO_TEST_CASE(empty_message_and_rest_not_consumed) {
  const Outcome empty = runAllSplits(Stage::Dots, ".\r\nQUIT\r\n");
  BOOST_TEST(empty.done);
  BOOST_TEST(empty.consumed == 3u);
  BOOST_TEST(empty.output == "");
  const Outcome blank = runAllSplits(Stage::Dots, "\r\n.\r\nQUIT\r\n");
  BOOST_TEST(blank.done);
  BOOST_TEST(blank.consumed == 5u);
  BOOST_TEST(blank.output == "\r\n");
}

BOOST_AUTO_TEST_CASE(dot_in_the_middle_of_a_line_is_not_a_terminator) {
  const Outcome partial = runAllSplits(Stage::Dots, "abc.\r\n");
  BOOST_TEST(!partial.done);
  BOOST_TEST(partial.consumed == 6u);
  BOOST_TEST(partial.output == "abc.\r\n");
  const Outcome full = runAllSplits(Stage::Dots, "abc.\r\nx\r\n.\r\n");
  BOOST_TEST(full.done);
  BOOST_TEST(full.consumed == 12u);
  BOOST_TEST(full.output == "abc.\r\nx\r\n");
}

BOOST_AUTO_TEST_CASE(unstuffing_rules) {
  BOOST_TEST(runAllSplits(Stage::Dots, ".x\r\n..\r\n...\r\n. \r\n.\r\n").output == "x\r\n.\r\n..\r\n \r\n");
  // A dot after a bare LF or bare CR is not at a line start and stays.
  BOOST_TEST(runAllSplits(Stage::Dots, "a\n.b\r.c\r\n.\r\n").output == "a\n.b\r.c\r\n");
  // ".<CR>" not followed by LF: the dot goes, the CR is content.
  const Outcome dot_cr = runAllSplits(Stage::Dots, ".\rx\r\n.\r\r\n.\r\n");
  BOOST_TEST(dot_cr.done);
  BOOST_TEST(dot_cr.output == "\rx\r\n\r\r\n");
  // Unfinished input keeps its held-back bytes out of the output.
  const Outcome held = runAllSplits(Stage::Dots, "a\r\n.\r");
  BOOST_TEST(!held.done);
  BOOST_TEST(held.output == "a\r\n");
  BOOST_TEST(held.consumed == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(content_filter)

BOOST_AUTO_TEST_CASE(canonical_text_passes_unchanged) {
  const std::string text = "From: a@example.org\r\nSubject: hi\r\n\r\nline one\r\n\r\nline\ttwo\r\n";
  const Outcome o = runAllSplits(Stage::Content, text);
  BOOST_TEST(o.output == text);
  BOOST_TEST(o.violation == ContentViolation::None);
  BOOST_TEST(!o.in_headers);
  BOOST_TEST(o.header_bytes == 34u);  // "From: a@example.org\r\n" + "Subject: hi\r\n"
}

BOOST_AUTO_TEST_CASE(reject_mode_stops_at_the_first_violation) {
  const Outcome lf = runAllSplits(Stage::Content, "ok\r\nbad\nmore\r\nstill\rx\r\n");
  BOOST_TEST(lf.violation == ContentViolation::BareLf);
  BOOST_TEST(lf.output == "ok\r\nbad");
  const Outcome cr = runAllSplits(Stage::Content, "ok\r\nbad\rmore\nx\r\n");
  BOOST_TEST(cr.violation == ContentViolation::BareCr);
  BOOST_TEST(cr.output == "ok\r\nbad");
  const Outcome trailing_cr = runAllSplits(Stage::Content, "ok\r\nabc\r");
  BOOST_TEST(trailing_cr.violation == ContentViolation::BareCr);
  BOOST_TEST(trailing_cr.output == "ok\r\nabc");
  const Outcome crcrlf = runAllSplits(Stage::Content, "a\r\r\n");
  BOOST_TEST(crcrlf.violation == ContentViolation::BareCr);
  BOOST_TEST(crcrlf.output == "a");
}

BOOST_AUTO_TEST_CASE(normalize_mode) {
  const Outcome o = runAllSplits(Stage::Content, "A: b\nC: d\r\r\n\nbody\rmore\n\r\nend\r", kNormalize);
  BOOST_TEST(o.violation == ContentViolation::None);
  BOOST_TEST(o.output == "A: b\r\nC: d\r\n\r\nbodymore\r\n\r\nend");
  BOOST_TEST(!o.in_headers);
  BOOST_TEST(o.header_bytes == 12u);
  BOOST_TEST(!hasBareCrOrLf(o.output));
  BOOST_TEST(runAllSplits(Stage::Content, "\r", kNormalize).output == "");
  BOOST_TEST(runAllSplits(Stage::Content, "\r\r\r\n", kNormalize).output == "\r\n");
}

// smug-bdat-embedded-eod: BDAT content has no terminator and no un-stuffing.
BOOST_AUTO_TEST_CASE(abuse_bdat_embedded_eod) {
  const std::vector<std::string> send = sendOf("smug-bdat-embedded-eod");
  const std::string& segment = send.at(0);
  const std::string chunk = segment.substr(segment.find("\r\n") + 2);
  const Outcome o = runAllSplits(Stage::Content, chunk);
  BOOST_TEST(o.violation == ContentViolation::None);
  BOOST_TEST(o.output == chunk);
  BOOST_TEST(o.output.find("\r\n.\r\nMAIL FROM:<admin@example.org>\r\n") != std::string::npos);
}

// smug-bdat-bare-lf: rejected, or normalized into one canonical message.
BOOST_AUTO_TEST_CASE(abuse_bdat_bare_lf) {
  const std::vector<std::string> send = sendOf("smug-bdat-bare-lf");
  const std::string& segment = send.at(0);
  const std::string chunk = segment.substr(segment.find("\r\n") + 2);
  BOOST_TEST_REQUIRE(chunk == "Subject: x\n\nbare lf\n.\n");
  BOOST_TEST(runAllSplits(Stage::Content, chunk).violation == ContentViolation::BareLf);
  const Outcome normalized = runAllSplits(Stage::Content, chunk, kNormalize);
  BOOST_TEST(normalized.output == "Subject: x\r\n\r\nbare lf\r\n.\r\n");
  BOOST_TEST(!normalized.in_headers);
}

BOOST_AUTO_TEST_CASE(nul_policies) {
  // nul-in-header and nul-in-body.
  for (const std::string id : {"nul-in-header", "nul-in-body"}) {
    const std::string data = sendOf(id).at(0);
    for (BareNewline mode : {BareNewline::Reject, BareNewline::Normalize}) {
      const Outcome rejected = runAllSplits(Stage::Data, data, policy(mode, true));
      BOOST_TEST(rejected.done);
      BOOST_TEST(rejected.consumed == data.size());
      BOOST_TEST(rejected.violation == ContentViolation::Nul);
      BOOST_TEST(rejected.output.find('\0') == std::string::npos);
      const Outcome kept = runAllSplits(Stage::Data, data, policy(mode, false));
      BOOST_TEST(kept.violation == ContentViolation::None);
      BOOST_TEST(kept.output == data.substr(0, data.size() - 3));  // everything but ".\r\n"
    }
  }
  BOOST_TEST(runAllSplits(Stage::Content, std::string("ab\0cd\r\n", 7)).output == "ab");
}

BOOST_AUTO_TEST_CASE(header_size_limit) {
  ContentPolicy p = kReject;
  p.max_header_size = 20;
  const Outcome fits = runAllSplits(Stage::Data, "Subject: 012345678\r\n\r\nbody\r\n.\r\n", p);
  BOOST_TEST(fits.violation == ContentViolation::None);
  BOOST_TEST(fits.header_bytes == 20u);
  BOOST_TEST(!fits.in_headers);
  BOOST_TEST(fits.output == "Subject: 012345678\r\n\r\nbody\r\n");

  const Outcome crlf_over = runAllSplits(Stage::Data, "Subject: 0123456789\r\n\r\nbody\r\n.\r\n", p);
  BOOST_TEST(crlf_over.done);
  BOOST_TEST(crlf_over.violation == ContentViolation::HeaderTooLarge);
  BOOST_TEST(crlf_over.header_bytes == 19u);
  BOOST_TEST(crlf_over.output == "Subject: 0123456789");

  const Outcome text_over = runAllSplits(Stage::Content, "A: 1\r\nSubject: 0123456789abcdef\r\n\r\n", p);
  BOOST_TEST(text_over.violation == ContentViolation::HeaderTooLarge);
  BOOST_TEST(text_over.output == "A: 1\r\nSubject: 01234");

  // Folded lines belong to the header section; body bytes do not count.
  p.max_header_size = 100;
  const Outcome folded = runAllSplits(Stage::Content, "Subject: a\r\n b\r\n\r\n" + std::string(2000, 'x') + "\r\n", p);
  BOOST_TEST(folded.violation == ContentViolation::None);
  BOOST_TEST(folded.header_bytes == 16u);

  // Without an empty line everything is header.
  p.max_header_size = 8;
  BOOST_TEST(runAllSplits(Stage::Content, "no header line here\r\n", p).violation == ContentViolation::HeaderTooLarge);
}

BOOST_AUTO_TEST_CASE(received_counting) {
  ContentPolicy p = kReject;
  p.max_received_headers = 2;
  const std::string two = "Received: a\r\nreceived: b\r\n  c\r\nX-Received: c\r\n Received: d\r\nReceived : e\r\n"
                          "Receive\r\nSubject: s\r\n\r\nReceived: body\r\n";
  const Outcome ok = runAllSplits(Stage::Content, two, p);
  BOOST_TEST(ok.violation == ContentViolation::None);
  BOOST_TEST(ok.received == 2u);
  BOOST_TEST(ok.output == two);

  const Outcome loop = runAllSplits(Stage::Data, "RECEIVED: 1\r\nReceived: 2\r\nReceived: 3\r\n\r\nx\r\n.\r\n", p);
  BOOST_TEST(loop.done);
  BOOST_TEST(loop.violation == ContentViolation::TooManyReceived);
  BOOST_TEST(loop.received == 3u);
  BOOST_TEST(loop.output == "RECEIVED: 1\r\nReceived: 2\r\nReceived:");

  // Normalized bare LFs start lines too.
  ContentPolicy n = kNormalize;
  n.max_received_headers = 1;
  BOOST_TEST(runAllSplits(Stage::Content, "Received: 1\nReceived: 2\n\n", n).violation ==
             ContentViolation::TooManyReceived);
}

BOOST_AUTO_TEST_CASE(first_violation_is_kept) {
  ContentPolicy p = kReject;
  p.max_header_size = 4;
  const Outcome o = runAllSplits(Stage::Content, "ab\ncdefgh\r", p);
  BOOST_TEST(o.violation == ContentViolation::BareLf);
  ContentPolicy q = kReject;
  q.max_header_size = 2;
  BOOST_TEST(runAllSplits(Stage::Content, "abc\n", q).violation == ContentViolation::HeaderTooLarge);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dot_stuffer)

BOOST_AUTO_TEST_CASE(stuffing_and_terminator) {
  BOOST_TEST(runAllSplits(Stage::Stuff, "").output == ".\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, "abc\r\n").output == "abc\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, "abc").output == "abc\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, ".\r\n.x\r\n..\r\na.b\r\n").output == "..\r\n..x\r\n...\r\na.b\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, ".").output == "..\r\n.\r\n");
}

// out-normalize-bare-lf: no bare CR or LF reaches the wire.
BOOST_AUTO_TEST_CASE(bare_newlines_become_crlf) {
  BOOST_TEST(runAllSplits(Stage::Stuff, "a\nb\rc\r\n.d\n").output == "a\r\nb\r\nc\r\n..d\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, "x\r\r\n").output == "x\r\n\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, "end\r").output == "end\r\n.\r\n");
  BOOST_TEST(runAllSplits(Stage::Stuff, ".\n.\r.").output == "..\r\n..\r\n..\r\n.\r\n");
  const std::string smuggled = sendOf("smug-lf-dot-crlf").at(0);
  const Outcome o = runAllSplits(Stage::Stuff, smuggled);
  BOOST_TEST(!hasBareCrOrLf(o.output));
  // Re-read by a strict receiver, it is exactly one message.
  const Outcome back = runAllSplits(Stage::Data, o.output);
  BOOST_TEST(back.done);
  BOOST_TEST(back.consumed == o.output.size());
  BOOST_TEST(back.violation == ContentViolation::None);
}

BOOST_AUTO_TEST_CASE(round_trip_random_canonical_content) {
  std::mt19937 rng(20240106);
  const std::string alphabet = std::string("abcXYZ .:-\t") + std::string(1, '\0') + "\xc3\xa9";
  const ContentPolicy lenient = [] {
    ContentPolicy p = policy(BareNewline::Reject, false);
    p.max_header_size = 1 << 24;
    p.max_received_headers = 1 << 20;
    return p;
  }();
  for (int message = 0; message < 300; ++message) {
    std::string content;
    const int lines = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int line = 0; line < lines; ++line) {
      const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      const int dots = kind < 3 ? std::uniform_int_distribution<int>(1, 3)(rng) : 0;
      content.append(static_cast<size_t>(dots), '.');
      if (kind != 9) {
        const int length = kind == 8 ? std::uniform_int_distribution<int>(900, 5000)(rng)
                                     : std::uniform_int_distribution<int>(0, 80)(rng);
        for (int i = 0; i < length; ++i) {
          content.push_back(alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)]);
        }
      }
      content.append("\r\n");
    }
    // Stuff in random pieces, then read back in other random pieces.
    std::vector<std::string_view> pieces;
    for (size_t pos = 0; pos < content.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(1, 700)(rng);
      pieces.push_back(std::string_view(content).substr(pos, len));
      pos += len;
    }
    const Outcome stuffed = run(Stage::Stuff, pieces, lenient);
    BOOST_TEST_REQUIRE(!hasBareCrOrLf(stuffed.output));
    std::vector<std::string_view> wire_pieces;
    for (size_t pos = 0; pos < stuffed.output.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(1, 700)(rng);
      wire_pieces.push_back(std::string_view(stuffed.output).substr(pos, len));
      pos += len;
    }
    const Outcome dots = run(Stage::Dots, wire_pieces, lenient);
    BOOST_TEST_REQUIRE(dots.done);
    BOOST_TEST_REQUIRE(dots.consumed == stuffed.output.size());
    BOOST_TEST_REQUIRE(dots.output == content, "message " << message);
    const Outcome filtered = run(Stage::Data, wire_pieces, lenient);
    BOOST_TEST_REQUIRE(filtered.violation == ContentViolation::None);
    BOOST_TEST_REQUIRE(filtered.output == content);
  }
}

BOOST_AUTO_TEST_SUITE_END()
