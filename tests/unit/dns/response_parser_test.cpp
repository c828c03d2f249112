// Unit tests for the DNS response parser (RFC 1035 §4.1 wire format, §4.1.4 compression,
// RFC 2181 §8 and §10.1, RFC 2308 §5) on packets built byte by byte here: every status,
// CNAME chains and loops, compression pointers (loops, forward, past the end), TXT, MX, AAAA,
// PTR, TLSA, TTL and SOA rules, the AD bit (DNSSEC-validated answers and denials), and every
// truncation of a valid packet.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/dns/resolver.h"
#include "print.h"

using namespace mxgate::dns;

namespace {

constexpr uint16_t kQr = 0x8000;
constexpr uint16_t kTc = 0x0200;
constexpr uint16_t kRd = 0x0100;
constexpr uint16_t kRa = 0x0080;
constexpr uint16_t kAd = 0x0020;
constexpr uint16_t kIn = 1;

uint16_t typeOf(RrType type) { return static_cast<uint16_t>(type); }

// Appends wire-format pieces; offsets are what compression pointers refer to.
class Wire {
 public:
  Wire& u8(uint8_t value) {
    data_.push_back(static_cast<char>(value));
    return *this;
  }
  Wire& u16(uint16_t value) { return u8(static_cast<uint8_t>(value >> 8)).u8(static_cast<uint8_t>(value)); }
  Wire& u32(uint32_t value) { return u16(static_cast<uint16_t>(value >> 16)).u16(static_cast<uint16_t>(value)); }
  Wire& raw(std::string_view bytes) {
    data_.append(bytes);
    return *this;
  }
  // The labels of a dotted name without the root label (to be followed by a pointer or u8(0)).
  Wire& labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(static_cast<uint8_t>(label.size())).raw(label);
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    return *this;
  }
  Wire& name(std::string_view dotted) { return labels(dotted).u8(0); }
  Wire& pointer(size_t offset) { return u16(static_cast<uint16_t>(0xC000 | offset)); }

  size_t size() const { return data_.size(); }
  const std::string& str() const { return data_; }

 private:
  std::string data_;
};

std::string rdataA(std::initializer_list<uint8_t> octets) { return std::string(octets.begin(), octets.end()); }

std::string rdataName(std::string_view name) { return Wire().name(name).str(); }

std::string rdataMx(uint16_t preference, std::string_view host) { return Wire().u16(preference).name(host).str(); }

std::string rdataTxt(std::initializer_list<std::string_view> strings) {
  Wire wire;
  for (std::string_view s : strings) {
    wire.u8(static_cast<uint8_t>(s.size())).raw(s);
  }
  return wire.str();
}

std::string rdataSoa(uint32_t minimum) {
  return Wire()
      .name("ns.example.test")
      .name("hostmaster.example.test")
      .u32(1)
      .u32(3600)
      .u32(600)
      .u32(86400)
      .u32(minimum)
      .str();
}

struct Rr {
  std::string owner;
  uint16_t type;
  uint32_t ttl;
  std::string rdata;
  uint16_t klass = kIn;
};

Wire& record(Wire& wire, const Rr& rr) {
  return wire.name(rr.owner)
      .u16(rr.type)
      .u16(rr.klass)
      .u32(rr.ttl)
      .u16(static_cast<uint16_t>(rr.rdata.size()))
      .raw(rr.rdata);
}

Wire header(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  Wire wire;
  wire.u16(0x1234).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  return wire;
}

// A whole response: header, one question, the sections, nothing compressed.
std::string response(std::string_view qname, RrType qtype, uint16_t rcode, const std::vector<Rr>& answers,
                     const std::vector<Rr>& authority = {}, const std::vector<Rr>& additional = {},
                     uint16_t extra_flags = 0) {
  Wire wire =
      header(static_cast<uint16_t>(kQr | kRd | kRa | extra_flags | rcode), 1, static_cast<uint16_t>(answers.size()),
             static_cast<uint16_t>(authority.size()), static_cast<uint16_t>(additional.size()));
  wire.name(qname).u16(typeOf(qtype)).u16(kIn);
  for (const auto* section : {&answers, &authority, &additional}) {
    for (const Rr& rr : *section) {
      record(wire, rr);
    }
  }
  return wire.str();
}

Rr soa(uint32_t ttl, uint32_t minimum) { return {"example.test", typeOf(RrType::SOA), ttl, rdataSoa(minimum)}; }

// An EDNS OPT pseudo-record as servers put in the additional section (RFC 6891 §6.1.2).
Rr opt() { return {"", 41, 0, "", 1232}; }

void requireServFail(const Answer& answer) {
  BOOST_TEST((answer.status == Status::ServFail));
  BOOST_TEST(answer.ttl == 0u);
  BOOST_TEST(answer.addresses.empty());
  BOOST_TEST(answer.texts.empty());
  BOOST_TEST(answer.mx.empty());
  BOOST_TEST(answer.names.empty());
  BOOST_TEST(answer.tlsa.empty());
  BOOST_TEST(answer.temporary());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dns_response_parser)

BOOST_AUTO_TEST_CASE(a_records_in_order_with_the_smallest_ttl) {
  const std::string packet = response("example.test", RrType::A, 0,
                                      {{"example.test", typeOf(RrType::A), 300, rdataA({192, 0, 2, 1})},
                                       {"example.test", typeOf(RrType::A), 120, rdataA({192, 0, 2, 2})}},
                                      {}, {opt()});
  const Answer answer = parseResponse(packet, "example.test", RrType::A);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.addresses == (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(answer.ttl == 120u);
  BOOST_TEST(!answer.temporary());
}

BOOST_AUTO_TEST_CASE(aaaa_in_numeric_text_form) {
  const std::string v6("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  const Answer answer = parseResponse(response("example.test", RrType::AAAA, 0, {{"example.test", 28, 60, v6}}),
                                      "example.test", RrType::AAAA);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.addresses == std::vector<std::string>{"2001:db8::1"}, boost::test_tools::per_element());
  BOOST_TEST(answer.ttl == 60u);
}

BOOST_AUTO_TEST_CASE(mx_preference_and_lower_cased_host_in_received_order) {
  const std::string packet = response("Example.Test", RrType::MX, 0,
                                      {{"example.test", typeOf(RrType::MX), 300, rdataMx(20, "MX2.Example.TEST")},
                                       {"example.test", typeOf(RrType::MX), 300, rdataMx(10, "mx1.example.test")}});
  const Answer answer = parseResponse(packet, "example.test.", RrType::MX);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.mx == (std::vector<MxHost>{{20, "mx2.example.test"}, {10, "mx1.example.test"}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(txt_strings_are_concatenated_per_record) {
  const std::string long_part(255, 'x');
  const std::string packet =
      response("example.test", RrType::TXT, 0,
               {{"example.test", typeOf(RrType::TXT), 300, rdataTxt({"v=spf1 ", "include:a.test", " -all"})},
                {"example.test", typeOf(RrType::TXT), 300, rdataTxt({long_part, "y"})},
                {"example.test", typeOf(RrType::TXT), 300, rdataTxt({""})},
                {"example.test", typeOf(RrType::TXT), 300, ""}});
  const Answer answer = parseResponse(packet, "example.test", RrType::TXT);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.texts == (std::vector<std::string>{"v=spf1 include:a.test -all", long_part + "y", "", ""}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ptr_and_cname_targets_without_trailing_dot) {
  const Answer ptr =
      parseResponse(response("1.2.0.192.in-addr.arpa", RrType::PTR, 0,
                             {{"1.2.0.192.in-addr.arpa", typeOf(RrType::PTR), 300, rdataName("Host.Example.Test")}}),
                    "1.2.0.192.in-addr.arpa", RrType::PTR);
  BOOST_TEST((ptr.status == Status::Ok));
  BOOST_TEST(ptr.names == std::vector<std::string>{"host.example.test"}, boost::test_tools::per_element());

  // A CNAME query returns the CNAME itself; it is not followed.
  const Answer cname =
      parseResponse(response("www.example.test", RrType::CNAME, 0,
                             {{"www.example.test", typeOf(RrType::CNAME), 30, rdataName("example.test")},
                              {"example.test", typeOf(RrType::CNAME), 30, rdataName("other.test")}}),
                    "www.example.test", RrType::CNAME);
  BOOST_TEST((cname.status == Status::Ok));
  BOOST_TEST(cname.names == std::vector<std::string>{"example.test"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(names_keep_bytes_outside_printable_ascii) {
  const std::string label("a\x01\xff.b", 5);
  const Answer answer =
      parseResponse(response("x.test", RrType::PTR, 0, {{"x.test", typeOf(RrType::PTR), 5, rdataName(label)}}),
                    "x.test", RrType::PTR);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.names == std::vector<std::string>{label}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cname_chain_is_followed_and_its_ttls_count) {
  const std::string packet =
      response("a.test", RrType::A, 0,
               {{"a.test", typeOf(RrType::CNAME), 600, rdataName("B.test")},
                {"other.test", typeOf(RrType::A), 1, rdataA({198, 51, 100, 1})},  // not on the chain: ignored
                {"b.test", typeOf(RrType::CNAME), 40, rdataName("c.test")},
                {"c.test", typeOf(RrType::A), 500, rdataA({192, 0, 2, 3})}});
  const Answer answer = parseResponse(packet, "a.test", RrType::A);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.addresses == std::vector<std::string>{"192.0.2.3"}, boost::test_tools::per_element());
  BOOST_TEST(answer.ttl == 40u);
}

BOOST_AUTO_TEST_CASE(cname_chain_without_the_final_record_is_nodata) {
  const std::string packet =
      response("a.test", RrType::TXT, 0, {{"a.test", typeOf(RrType::CNAME), 600, rdataName("b.test")}}, {soa(100, 30)});
  const Answer answer = parseResponse(packet, "a.test", RrType::TXT);
  BOOST_TEST((answer.status == Status::NoData));
  BOOST_TEST(answer.ttl == 30u);
  BOOST_TEST(answer.texts.empty());
}

BOOST_AUTO_TEST_CASE(cname_loops_are_servfail) {
  requireServFail(parseResponse(response("a.test", RrType::A, 0,
                                         {{"a.test", typeOf(RrType::CNAME), 60, rdataName("b.test")},
                                          {"b.test", typeOf(RrType::CNAME), 60, rdataName("a.test")}}),
                                "a.test", RrType::A));
  requireServFail(
      parseResponse(response("a.test", RrType::A, 0, {{"a.test", typeOf(RrType::CNAME), 60, rdataName("A.test")}}),
                    "a.test", RrType::A));
}

BOOST_AUTO_TEST_CASE(cname_chains_are_bounded_to_eight_links) {
  auto chain = [](size_t links) {
    std::vector<Rr> answers;
    for (size_t i = 0; i < links; ++i) {
      answers.push_back({"n" + std::to_string(i) + ".test", typeOf(RrType::CNAME), 60,
                         rdataName("n" + std::to_string(i + 1) + ".test")});
    }
    answers.push_back({"n" + std::to_string(links) + ".test", typeOf(RrType::A), 60, rdataA({192, 0, 2, 8})});
    return parseResponse(response("n0.test", RrType::A, 0, answers), "n0.test", RrType::A);
  };
  BOOST_TEST((chain(8).status == Status::Ok));
  BOOST_TEST(chain(8).addresses == std::vector<std::string>{"192.0.2.8"}, boost::test_tools::per_element());
  requireServFail(chain(9));
}

BOOST_AUTO_TEST_CASE(nxdomain_ttl_is_the_smaller_of_soa_ttl_and_minimum) {
  const Answer by_minimum =
      parseResponse(response("nx.example.test", RrType::A, 3, {}, {soa(3600, 60)}), "nx.example.test", RrType::A);
  BOOST_TEST((by_minimum.status == Status::NxDomain));
  BOOST_TEST(by_minimum.ttl == 60u);
  BOOST_TEST(!by_minimum.temporary());
  const Answer by_ttl =
      parseResponse(response("nx.example.test", RrType::A, 3, {}, {soa(15, 60)}), "nx.example.test", RrType::A);
  BOOST_TEST((by_ttl.status == Status::NxDomain));
  BOOST_TEST(by_ttl.ttl == 15u);
  const Answer without_soa = parseResponse(response("nx.example.test", RrType::A, 3, {}), "nx.example.test", RrType::A);
  BOOST_TEST((without_soa.status == Status::NxDomain));
  BOOST_TEST(without_soa.ttl == 0u);
}

BOOST_AUTO_TEST_CASE(nxdomain_wins_over_a_cname_chain) {
  const Answer answer = parseResponse(
      response("a.test", RrType::A, 3, {{"a.test", typeOf(RrType::CNAME), 60, rdataName("gone.test")}}, {soa(100, 50)}),
      "a.test", RrType::A);
  BOOST_TEST((answer.status == Status::NxDomain));
  BOOST_TEST(answer.ttl == 50u);
  BOOST_TEST(answer.addresses.empty());
}

BOOST_AUTO_TEST_CASE(nodata_with_and_without_soa) {
  const Answer with_soa =
      parseResponse(response("example.test", RrType::MX, 0, {}, {soa(200, 900)}), "example.test", RrType::MX);
  BOOST_TEST((with_soa.status == Status::NoData));
  BOOST_TEST(with_soa.ttl == 200u);
  // Records of other types, other owners or another class do not make an answer.
  const Answer other = parseResponse(response("example.test", RrType::MX, 0,
                                              {{"example.test", typeOf(RrType::A), 60, rdataA({192, 0, 2, 1})},
                                               {"x.example.test", typeOf(RrType::MX), 60, rdataMx(1, "mx.test")},
                                               {"example.test", typeOf(RrType::MX), 60, rdataMx(1, "mx.test"), 3}}),
                                     "example.test", RrType::MX);
  BOOST_TEST((other.status == Status::NoData));
  BOOST_TEST(other.ttl == 0u);
  BOOST_TEST(other.mx.empty());
}

BOOST_AUTO_TEST_CASE(malformed_soa_in_a_negative_answer_is_servfail) {
  Rr bad = soa(100, 60);
  bad.rdata.pop_back();
  requireServFail(parseResponse(response("nx.test", RrType::A, 3, {}, {bad}), "nx.test", RrType::A));
}

BOOST_AUTO_TEST_CASE(soa_query_gives_the_primary_server) {
  const Answer answer =
      parseResponse(response("example.test", RrType::SOA, 0, {soa(500, 60)}), "example.test", RrType::SOA);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.names == std::vector<std::string>{"ns.example.test"}, boost::test_tools::per_element());
  BOOST_TEST(answer.ttl == 500u);
}

BOOST_AUTO_TEST_CASE(ttls_with_the_top_bit_set_count_as_zero) {
  const Answer answer =
      parseResponse(response("example.test", RrType::A, 0,
                             {{"example.test", typeOf(RrType::A), 0x80000000u, rdataA({192, 0, 2, 1})},
                              {"example.test", typeOf(RrType::A), 0x7FFFFFFFu, rdataA({192, 0, 2, 2})}}),
                    "example.test", RrType::A);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.ttl == 0u);
  const Answer largest =
      parseResponse(response("example.test", RrType::A, 0,
                             {{"example.test", typeOf(RrType::A), 0x7FFFFFFFu, rdataA({192, 0, 2, 2})}}),
                    "example.test", RrType::A);
  BOOST_TEST(largest.ttl == 0x7FFFFFFFu);
}

BOOST_AUTO_TEST_CASE(rcodes_other_than_noerror_and_nxdomain_are_servfail) {
  for (uint16_t rcode : {1, 2, 4, 5, 6, 9, 15}) {
    BOOST_TEST_CONTEXT("rcode " << rcode) {
      requireServFail(parseResponse(
          response("example.test", RrType::A, rcode, {{"example.test", typeOf(RrType::A), 60, rdataA({192, 0, 2, 1})}}),
          "example.test", RrType::A));
    }
  }
}

BOOST_AUTO_TEST_CASE(header_flags_and_counts_are_checked) {
  const std::vector<Rr> answers{{"example.test", typeOf(RrType::A), 60, rdataA({192, 0, 2, 1})}};
  requireServFail(
      parseResponse(response("example.test", RrType::A, 0, answers, {}, {}, kTc), "example.test", RrType::A));
  // QR clear: a query, not a response.
  std::string query = response("example.test", RrType::A, 0, answers);
  query[2] = static_cast<char>(query[2] & 0x7F);
  requireServFail(parseResponse(query, "example.test", RrType::A));
  // Opcode 2 (STATUS).
  std::string status = response("example.test", RrType::A, 0, answers);
  status[2] = static_cast<char>(status[2] | 0x10);
  requireServFail(parseResponse(status, "example.test", RrType::A));
  // No question, and two questions.
  requireServFail(parseResponse(header(kQr, 0, 0, 0, 0).str(), "example.test", RrType::A));
  Wire two = header(kQr, 2, 0, 0, 0);
  two.name("example.test").u16(1).u16(kIn).name("example.test").u16(1).u16(kIn);
  requireServFail(parseResponse(two.str(), "example.test", RrType::A));
  requireServFail(parseResponse("", "example.test", RrType::A));
  requireServFail(parseResponse(std::string(11, '\x80'), "example.test", RrType::A));
}

BOOST_AUTO_TEST_CASE(question_must_match_name_type_and_class) {
  const std::vector<Rr> answers{{"example.test", typeOf(RrType::A), 60, rdataA({192, 0, 2, 1})}};
  const std::string packet = response("EXAMPLE.test", RrType::A, 0, answers);
  BOOST_TEST((parseResponse(packet, "example.TEST.", RrType::A).status == Status::Ok));
  requireServFail(parseResponse(packet, "other.test", RrType::A));
  requireServFail(parseResponse(packet, "example.test.x", RrType::A));
  requireServFail(parseResponse(packet, "example.test", RrType::AAAA));
  Wire chaos = header(kQr, 1, 0, 0, 0);
  chaos.name("example.test").u16(1).u16(3);
  requireServFail(parseResponse(chaos.str(), "example.test", RrType::A));
}

BOOST_AUTO_TEST_CASE(compression_pointers_to_prior_names_are_followed) {
  Wire wire = header(kQr | kRd | kRa, 1, 2, 0, 0);
  const size_t qname = wire.size();
  wire.name("example.test").u16(typeOf(RrType::MX)).u16(kIn);
  const size_t suffix = qname + 8;  // "test" inside the question name
  // Owner: pointer to the question; host: "mx" + pointer to the question.
  wire.pointer(qname).u16(typeOf(RrType::MX)).u16(kIn).u32(60).u16(2 + 3 + 2).u16(5).labels("mx").pointer(qname);
  // Owner: pointer; host: "mx2.other" + pointer to "test" (a pointer into the middle of a name).
  wire.pointer(qname)
      .u16(typeOf(RrType::MX))
      .u16(kIn)
      .u32(60)
      .u16(2 + 4 + 6 + 2)
      .u16(7)
      .labels("mx2.other")
      .pointer(suffix);
  const Answer answer = parseResponse(wire.str(), "example.test", RrType::MX);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.mx == (std::vector<MxHost>{{5, "mx.example.test"}, {7, "mx2.other.test"}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pointer_chains_through_earlier_pointers_work) {
  Wire wire = header(kQr, 1, 2, 0, 0);
  const size_t qname = wire.size();
  wire.name("example.test").u16(typeOf(RrType::PTR)).u16(kIn);
  const size_t first_rdata = wire.size() + 2 + 10;
  wire.pointer(qname).u16(typeOf(RrType::PTR)).u16(kIn).u32(60).u16(4 + 2).labels("abc").pointer(qname);
  // The second target points at the first target, which itself ends in a pointer.
  wire.pointer(qname).u16(typeOf(RrType::PTR)).u16(kIn).u32(60).u16(2 + 2).labels("z").pointer(first_rdata);
  const Answer answer = parseResponse(wire.str(), "example.test", RrType::PTR);
  BOOST_TEST((answer.status == Status::Ok));
  BOOST_TEST(answer.names == (std::vector<std::string>{"abc.example.test", "z.abc.example.test"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pointer_loops_forward_pointers_and_pointers_past_the_end_are_servfail) {
  auto withOwner = [](auto&& writeOwner) {
    Wire wire = header(kQr, 1, 1, 0, 0);
    wire.name("example.test").u16(1).u16(kIn);
    writeOwner(wire);
    wire.u16(1).u16(kIn).u32(60).u16(4).raw(rdataA({192, 0, 2, 1}));
    return parseResponse(wire.str(), "example.test", RrType::A);
  };
  // Control: a pointer to the question name is fine.
  BOOST_TEST((withOwner([](Wire& w) { w.pointer(12); }).status == Status::Ok));
  // A pointer to itself.
  requireServFail(withOwner([](Wire& w) { w.pointer(w.size()); }));
  // A pointer forwards (into the record's own fixed fields).
  requireServFail(withOwner([](Wire& w) { w.pointer(w.size() + 2); }));
  // A pointer past the end of the packet.
  requireServFail(withOwner([](Wire& w) { w.pointer(0x3FFF); }));
  // Two pointers that point at each other: the second one points back, the first forward.
  requireServFail(withOwner([](Wire& w) {
    const size_t here = w.size();
    w.labels("x").pointer(here + 4).pointer(here);
  }));
  // A pointer cut in half at the end of the packet.
  Wire cut = header(kQr, 1, 0, 0, 0);
  cut.u8(0xC0);
  requireServFail(parseResponse(cut.str(), "example.test", RrType::A));
}

BOOST_AUTO_TEST_CASE(label_types_and_name_length_limits) {
  // 0x40 and 0x80 label types are rejected.
  for (uint8_t bad : {0x40, 0x80}) {
    Wire wire = header(kQr, 1, 0, 0, 0);
    wire.u8(bad).raw("abc").u8(0).u16(1).u16(kIn);
    requireServFail(parseResponse(wire.str(), "abc", RrType::A));
  }
  // 255 octets on the wire is the limit: 4 labels of 63 plus a label of 1 is 4*64 + 2 + 1 = 259.
  const std::string l63(63, 'a');
  const std::string at_limit = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');  // 3*64 + 62 + 1 = 255
  const std::string too_long = at_limit + "c";
  const std::vector<Rr> none;
  BOOST_TEST((parseResponse(response(at_limit, RrType::A, 3, none), at_limit, RrType::A).status == Status::NxDomain));
  requireServFail(parseResponse(response(too_long, RrType::A, 3, none), too_long, RrType::A));
  // The limit also holds for names assembled through pointers.
  Wire wire = header(kQr, 1, 1, 0, 0);
  const size_t qname = wire.size();
  wire.name(at_limit).u16(typeOf(RrType::PTR)).u16(kIn);
  wire.pointer(qname).u16(typeOf(RrType::PTR)).u16(kIn).u32(60).u16(2 + 2).labels("x").pointer(qname);
  requireServFail(parseResponse(wire.str(), at_limit, RrType::PTR));
}

BOOST_AUTO_TEST_CASE(tlsa_records_and_the_ad_bit) {
  const std::string digest("\x01\x02\xfe\x00\xff", 5);
  const std::string rdata = std::string("\x03\x01\x01", 3) + digest;
  const std::string owner = "_25._tcp.mx1.example.test";
  const std::vector<Rr> records = {{owner, typeOf(RrType::TLSA), 300, rdata},
                                   {owner, typeOf(RrType::TLSA), 300, std::string("\x02\x00\x02\xaa", 4)}};
  const Answer validated = parseResponse(response(owner, RrType::TLSA, 0, records, {}, {opt()}, kAd), owner, RrType::TLSA);
  BOOST_TEST((validated.status == Status::Ok));
  BOOST_TEST(validated.authenticated);
  BOOST_REQUIRE(validated.tlsa.size() == 2u);
  BOOST_TEST((validated.tlsa[0] == Tlsa{3, 1, 1, digest}));
  BOOST_TEST((validated.tlsa[1] == Tlsa{2, 0, 2, "\xaa"}));
  BOOST_TEST(!parseResponse(response(owner, RrType::TLSA, 0, records), owner, RrType::TLSA).authenticated);
  // A validated denial of existence is authenticated too; a SERVFAIL never is.
  const Answer denied = parseResponse(response(owner, RrType::TLSA, 3, {}, {soa(60, 60)}, {}, kAd), owner, RrType::TLSA);
  BOOST_TEST((denied.status == Status::NxDomain));
  BOOST_TEST(denied.authenticated);
  const Answer nodata = parseResponse(response(owner, RrType::TLSA, 0, {}, {soa(60, 60)}, {}, kAd), owner, RrType::TLSA);
  BOOST_TEST((nodata.status == Status::NoData));
  BOOST_TEST(nodata.authenticated);
  const Answer failed = parseResponse(response(owner, RrType::TLSA, 2, {}, {}, {}, kAd), owner, RrType::TLSA);
  requireServFail(failed);
  BOOST_TEST(!failed.authenticated);
}

BOOST_AUTO_TEST_CASE(malformed_rdata_is_servfail) {
  auto one = [](RrType type, std::string rdata) {
    return parseResponse(response("example.test", type, 0, {{"example.test", typeOf(type), 60, std::move(rdata)}}),
                         "example.test", type);
  };
  requireServFail(one(RrType::A, std::string("\xc0\x00\x02\x01\x05", 5)));
  requireServFail(one(RrType::A, std::string("\xc0\x00\x02", 3)));
  requireServFail(one(RrType::AAAA, std::string(4, '\x01')));
  requireServFail(one(RrType::TXT, std::string("\x05"
                                               "abc",
                                               4)));                    // string runs past the RDATA
  requireServFail(one(RrType::MX, std::string("\x00", 1)));             // no room for the preference
  requireServFail(one(RrType::MX, rdataMx(10, "mx.test") + "junk"));    // name does not fill the RDATA
  requireServFail(one(RrType::PTR, rdataName("a.test").substr(0, 4)));  // name runs past the RDATA
  requireServFail(one(RrType::TLSA, std::string("\x03\x01\x01", 3)));  // no association data
  Rr short_soa = soa(60, 60);
  short_soa.rdata.resize(short_soa.rdata.size() - 1);
  requireServFail(one(RrType::SOA, short_soa.rdata));
  BOOST_TEST((one(RrType::A, rdataA({10, 0, 0, 1})).status == Status::Ok));
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_valid_packet_is_servfail) {
  Wire wire = header(kQr | kRd | kRa, 1, 3, 1, 1);
  const size_t qname = wire.size();
  wire.name("www.example.test").u16(typeOf(RrType::TXT)).u16(kIn);
  const size_t target = wire.size() + 2 + 10;
  wire.pointer(qname).u16(typeOf(RrType::CNAME)).u16(kIn).u32(300).u16(4 + 2).labels("txt").pointer(qname + 4);
  wire.pointer(target).u16(typeOf(RrType::TXT)).u16(kIn).u32(200).u16(6).raw(rdataTxt({"ab", "cd"}));
  wire.pointer(target).u16(typeOf(RrType::TXT)).u16(kIn).u32(100).u16(2).raw(rdataTxt({"e"}));
  record(wire, soa(60, 60));
  record(wire, opt());
  const std::string packet = wire.str();
  const Answer full = parseResponse(packet, "www.example.test", RrType::TXT);
  BOOST_TEST((full.status == Status::Ok));
  BOOST_TEST(full.texts == (std::vector<std::string>{"abcd", "e"}), boost::test_tools::per_element());
  BOOST_TEST(full.ttl == 100u);
  for (size_t length = 0; length < packet.size(); ++length) {
    BOOST_TEST_CONTEXT("length " << length) {
      requireServFail(parseResponse(packet.substr(0, length), "www.example.test", RrType::TXT));
    }
  }
  // Bytes after the last declared record are ignored.
  BOOST_TEST((parseResponse(packet + "trailing", "www.example.test", RrType::TXT).status == Status::Ok));
}

BOOST_AUTO_TEST_CASE(canonical_names) {
  BOOST_TEST(canonicalName("Example.TEST.") == "example.test");
  BOOST_TEST(canonicalName("example.test") == "example.test");
  BOOST_TEST(canonicalName("a..") == "a.");
  BOOST_TEST(canonicalName(".") == "");
  BOOST_TEST(canonicalName("") == "");
  BOOST_TEST(canonicalName("\xC3\x89.Test") == "\xC3\x89.test");
}

BOOST_AUTO_TEST_SUITE_END()
