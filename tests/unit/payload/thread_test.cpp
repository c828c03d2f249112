// Ticket patterns (GRegex: with and without a capture group, invalid text, check()) and the
// thread hints: subject ticket, In-Reply-To / References ids (at most 50 hints), RFC 5233 plus
// tags (deduplicated; a tag can carry the ticket), and the normalized subject with every reply/
// forward prefix of the list and the ticket tag removed.
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/payload/inbound.h"

namespace mxgate::payload {

std::ostream& operator<<(std::ostream& out, const ThreadHint& hint) {
  return out << hint.source << ':' << hint.value;
}

namespace {

const TicketPattern& defaultPattern() {
  static const TicketPattern pattern{config::ThreadPolicy{}.ticket_pattern};
  return pattern;
}

mime::Message withSubject(std::string subject) {
  mime::Message message;
  message.subject = std::move(subject);
  return message;
}

BOOST_AUTO_TEST_SUITE(payload_thread)

BOOST_AUTO_TEST_CASE(pattern_without_group_strips_one_pair_of_brackets) {
  BOOST_TEST(defaultPattern().find("Re: Printer [TICKET-202501-0001] on fire") == "TICKET-202501-0001");
  BOOST_TEST(defaultPattern().find("Re: Printer TICKET-202501-0001 on fire") == "");
  BOOST_TEST(defaultPattern().find("[TICKET-20250-0001]") == "");
  const TicketPattern bare(R"(INC\d+)");
  BOOST_TEST(bare.find("about INC0042 and INC7") == "INC0042");
}

BOOST_AUTO_TEST_CASE(pattern_with_group_takes_the_first_group) {
  const TicketPattern zammad(R"(\[Ticket#(\d+)\])");
  BOOST_TEST(zammad.find("Re: Some Subject [Ticket#12345]") == "12345");
  const TicketPattern rt(R"(\[(acme #\d+)\])");
  BOOST_TEST(rt.find("[acme #77] Broken") == "acme #77");
  const TicketPattern optional(R"(\[T(-\d+)?\])");
  BOOST_TEST(optional.find("[T] x") == "");
}

BOOST_AUTO_TEST_CASE(empty_pattern_finds_nothing) {
  const TicketPattern none("");
  BOOST_TEST(none.find("[TICKET-202501-0001]") == "");
  BOOST_TEST(none.removeMatches("[TICKET-202501-0001] x") == "[TICKET-202501-0001] x");
}

BOOST_AUTO_TEST_CASE(invalid_pattern_text) {
  BOOST_CHECK_THROW(TicketPattern("[unclosed"), std::invalid_argument);
  try {
    TicketPattern bad("(a");
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& error) {
    BOOST_TEST(std::string(error.what()).find("invalid ticket pattern: ") == 0u);
    BOOST_TEST(std::string(error.what()).size() > 24u);
  }
  BOOST_CHECK_NO_THROW(TicketPattern(config::ThreadPolicy{}.ticket_pattern));
  BOOST_CHECK_NO_THROW(TicketPattern(""));
  BOOST_CHECK_THROW(TicketPattern("(a"), std::invalid_argument);
  BOOST_CHECK_THROW(TicketPattern("x{2,1}"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(malformed_utf8_text_has_no_ticket) {
  BOOST_TEST(defaultPattern().find("[TICKET-202501-0001] \xff") == "");
}

BOOST_AUTO_TEST_CASE(shared_pattern_on_many_threads) {
  std::vector<std::thread> threads;
  std::vector<int> found(8, 0);
  for (size_t t = 0; t < found.size(); ++t) {
    threads.emplace_back([&found, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string id = "TICKET-2025" + std::to_string(10 + t) + "-" + std::to_string(1000 + i);
        found[t] += defaultPattern().find("Re: x [" + id + "]") == id ? 1 : 0;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int count : found) {
    BOOST_TEST(count == 500);
  }
}

BOOST_AUTO_TEST_CASE(hints_in_order_with_sources) {
  mime::Message message = withSubject("Re: Printer is on fire [TICKET-202501-0001]");
  message.in_reply_to = {"<p@gw.example>"};
  message.references = {"<a@crm.example>", "<p@gw.example>"};
  const std::vector<std::string> rcpt_to = {"support+TICKET-202501-0002@acme.example", "sales+x@acme.example",
                                            "support+TICKET-202501-0002@acme.example", "plain@acme.example",
                                            "empty+@acme.example"};
  const Thread thread = threadHints(message, rcpt_to, defaultPattern());
  const std::vector<ThreadHint> expected = {
      {"TICKET-202501-0001", "subject"},    {"<p@gw.example>", "in_reply_to"},
      {"<a@crm.example>", "references"},    {"<p@gw.example>", "references"},
      {"TICKET-202501-0002", "plus_address"}, {"x", "plus_address"},
  };
  BOOST_TEST(thread.hints == expected, boost::test_tools::per_element());
  BOOST_TEST(thread.ticket == "TICKET-202501-0001");
  BOOST_TEST(thread.subject_normalized == "Printer is on fire");
}

BOOST_AUTO_TEST_CASE(ticket_from_a_plus_tag) {
  const mime::Message message = withSubject("Printer");
  BOOST_TEST(threadHints(message, {"a+nothing@x", "b+TICKET-202501-0003@x"}, defaultPattern()).ticket ==
             "TICKET-202501-0003");
  const TicketPattern digits(R"(^(\d+)$)");
  BOOST_TEST(threadHints(message, {"help+4711@x"}, digits).ticket == "4711");
  BOOST_TEST(threadHints(message, {"help@x"}, defaultPattern()).ticket == "");
}

BOOST_AUTO_TEST_CASE(at_most_fifty_hints) {
  mime::Message message = withSubject("[TICKET-202501-0001]");
  message.in_reply_to = {"<irt@x>"};
  for (int i = 0; i < 80; ++i) {
    message.references.push_back("<r" + std::to_string(i) + "@x>");
  }
  const Thread thread = threadHints(message, {"s+TICKET-202501-0009@x"}, defaultPattern());
  BOOST_TEST(thread.hints.size() == 50u);
  BOOST_TEST(thread.hints.back().value == "<r47@x>");
  BOOST_TEST(thread.ticket == "TICKET-202501-0001");
  BOOST_TEST(thread.subject_normalized == "");
}

BOOST_AUTO_TEST_CASE(reply_and_forward_prefixes) {
  const std::pair<const char*, const char*> cases[] = {
      {"Re: Hello", "Hello"},
      {"RE: Hello", "Hello"},
      {"re: Hello", "Hello"},
      {"Fwd: Hello", "Hello"},
      {"Fw: Hello", "Hello"},
      {"FW: Hello", "Hello"},
      {"AW: Hello", "Hello"},
      {"WG: Hello", "Hello"},
      {"SV: Hello", "Hello"},
      {"VS: Hello", "Hello"},
      {"Antw: Hello", "Hello"},
      {"Rif: Hello", "Hello"},
      {"R: Hello", "Hello"},
      {"Enc: Hello", "Hello"},
      {"TR: Hello", "Hello"},
      {"RV: Hello", "Hello"},
      {"Re[2]: Hello", "Hello"},
      {"Re [3] : Hello", "Hello"},
      {"Re: AW: Fwd:  Re:Hello", "Hello"},
      {"Re: [TICKET-202501-0001] Re: Hello   world ", "Hello world"},
      {"[TICKET-202501-0001] AW: Hello", "Hello"},
      {"Hello [TICKET-202501-0001] again [TICKET-202501-0002]", "Hello again"},
      {"Regarding: Hello", "Regarding: Hello"},
      {"Rechnung: Hello", "Rechnung: Hello"},
      {"Re[x]: Hello", "Re[x]: Hello"},
      {"Hello Re: there", "Hello Re: there"},
      {"  \t", ""},
      {"Re:", ""},
  };
  for (const auto& [subject, normalized] : cases) {
    BOOST_TEST_CONTEXT(subject) {
      BOOST_TEST(threadHints(withSubject(subject), {}, defaultPattern()).subject_normalized == normalized);
    }
  }
}

BOOST_AUTO_TEST_CASE(remove_matches_with_a_group_removes_the_whole_match) {
  const TicketPattern zammad(R"(\[Ticket#(\d+)\])");
  BOOST_TEST(zammad.removeMatches("Re: x [Ticket#12] y") == "Re: x  y");
  BOOST_TEST(threadHints(withSubject("Re: x [Ticket#12] y"), {}, zammad).subject_normalized == "x y");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::payload
