// Unit tests for the HTTP/1.1 request parser: pipelined requests one at a time, split input,
// header and body limits, keep-alive, query parameters.
#include <boost/test/unit_test.hpp>

#include "mxgate/http/request_parser.h"

using namespace mxgate;

BOOST_AUTO_TEST_SUITE(request_parser)

BOOST_AUTO_TEST_CASE(pipelined_requests_come_out_one_by_one) {
  http::RequestParser parser({});
  std::string input =
      "GET /v1/queue?limit=5&x=y HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer abc\r\n\r\n"
      "POST /v1/queue/X/retry HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
  std::vector<http::Request> requests;
  std::string_view rest = input;
  while (!rest.empty()) {
    size_t consumed = 0;
    http::Request request;
    auto status = parser.feed(rest, consumed, request);
    BOOST_REQUIRE((status == http::RequestParser::Status::Complete));
    rest.remove_prefix(consumed);
    requests.push_back(std::move(request));
  }
  BOOST_REQUIRE(requests.size() == 3u);
  BOOST_TEST(requests[0].method == "GET");
  BOOST_TEST(requests[0].path == "/v1/queue");
  BOOST_TEST(requests[0].queryParam("limit") == "5");
  BOOST_TEST(requests[0].queryParam("x") == "y");
  BOOST_TEST(requests[0].queryParam("missing") == "");
  BOOST_TEST(requests[0].header("authorization") == "Bearer abc");
  BOOST_TEST(requests[0].keep_alive);
  BOOST_TEST(requests[1].method == "POST");
  BOOST_TEST(requests[1].body == "abc");
  BOOST_TEST(!requests[2].keep_alive);
}

BOOST_AUTO_TEST_CASE(input_split_at_every_byte) {
  std::string input = "DELETE /v1/queue/ABC HTTP/1.1\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok";
  for (size_t cut = 1; cut < input.size(); ++cut) {
    http::RequestParser parser({});
    http::Request request;
    size_t consumed = 0;
    auto first = parser.feed(std::string_view(input).substr(0, cut), consumed, request);
    BOOST_REQUIRE((first == http::RequestParser::Status::NeedMore));
    BOOST_REQUIRE(consumed == cut);
    auto second = parser.feed(std::string_view(input).substr(cut), consumed, request);
    BOOST_REQUIRE((second == http::RequestParser::Status::Complete));
    BOOST_REQUIRE(request.method == "DELETE");
    BOOST_REQUIRE(request.body == "ok");
    BOOST_REQUIRE(request.header("x-a") == "1");
  }
}

BOOST_AUTO_TEST_CASE(head_then_body_and_repeated_headers) {
  http::RequestParser parser({});
  http::Request request;
  size_t consumed = 0;
  BOOST_TEST(!parser.inBody());
  BOOST_TEST((parser.feed("POST /x HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\r\n", consumed, request) ==
              http::RequestParser::Status::NeedMore));
  BOOST_TEST(!parser.inBody());  // the head is still arriving
  BOOST_TEST((parser.feed("x-forwarded-for: 10.0.0.1, 10.0.0.2\r\nContent-Length: 4\r\n\r\nab", consumed, request) ==
              http::RequestParser::Status::NeedMore));
  BOOST_TEST(parser.inBody());
  BOOST_TEST((parser.feed("cd", consumed, request) == http::RequestParser::Status::Complete));
  BOOST_TEST(!parser.inBody());
  BOOST_TEST(request.body == "abcd");
  const std::vector<std::string_view> values = request.headerValues("x-forwarded-for");
  BOOST_TEST(values == (std::vector<std::string_view>{"192.0.2.1", "10.0.0.1, 10.0.0.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(request.headerValues("via").empty());
}

BOOST_AUTO_TEST_CASE(limits_give_the_right_status) {
  http::RequestParser::Limits limits;
  limits.max_header_bytes = 100;
  limits.max_body_bytes = 10;
  {
    http::RequestParser parser(limits);
    http::Request request;
    size_t consumed = 0;
    std::string big = "GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n";
    BOOST_TEST((parser.feed(big, consumed, request) == http::RequestParser::Status::Error));
    BOOST_TEST(parser.errorStatus() == 431);
  }
  {
    http::RequestParser parser(limits);
    http::Request request;
    size_t consumed = 0;
    BOOST_TEST((parser.feed("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", consumed, request) ==
                http::RequestParser::Status::Error));
    BOOST_TEST(parser.errorStatus() == 413);
  }
  {
    http::RequestParser parser(limits);
    http::Request request;
    size_t consumed = 0;
    std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
    BOOST_TEST((parser.feed(chunked, consumed, request) == http::RequestParser::Status::Error));
    BOOST_TEST(parser.errorStatus() == 413);
  }
  {
    http::RequestParser parser(limits);
    http::Request request;
    size_t consumed = 0;
    BOOST_TEST((parser.feed("NOT HTTP AT ALL\r\n\r\n", consumed, request) == http::RequestParser::Status::Error));
    BOOST_TEST(parser.errorStatus() == 400);
  }
}

BOOST_AUTO_TEST_SUITE_END()
