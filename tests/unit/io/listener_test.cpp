// Unit tests for listening sockets reserved before a privilege drop (io::reserveSocket): the
// next bindSocket for the same address and port gets the reserved socket, listening, and a
// SO_REUSEPORT group reserved whole (port 0, then the port it received) is handed out whole.
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "mxgate/io/listener.h"

using namespace mxgate;

namespace {

bool listening(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 && value == 1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(listener_suite)

BOOST_AUTO_TEST_CASE(bind_hands_out_the_reserved_sockets_then_binds_anew) {
  std::string error;
  uint16_t first = 0;
  uint16_t second = 0;
  BOOST_TEST_REQUIRE(io::reserveSocket("127.0.0.1", 0, 16, first, error), error);
  BOOST_TEST_REQUIRE(io::reserveSocket("127.0.0.1", first, 16, second, error), error);
  BOOST_TEST(first != 0);
  BOOST_TEST(second == first);

  uint16_t bound = 0;
  const int a = io::bindSocket("127.0.0.1", 0, 128, bound, error);
  BOOST_TEST_REQUIRE(a >= 0, error);
  BOOST_TEST(bound == first);
  BOOST_TEST(listening(a));
  const int b = io::bindSocket("127.0.0.1", first, 128, bound, error);
  BOOST_TEST_REQUIRE(b >= 0, error);
  BOOST_TEST(bound == first);
  BOOST_TEST(b != a);
  // Nothing reserved any more: a fresh socket.
  const int c = io::bindSocket("127.0.0.1", 0, 128, bound, error);
  BOOST_TEST_REQUIRE(c >= 0, error);
  BOOST_TEST((c != a && c != b));
  BOOST_TEST(listening(c));
  for (int fd : {a, b, c}) {
    ::close(fd);
  }
}

BOOST_AUTO_TEST_CASE(a_reservation_that_cannot_bind_fails) {
  std::string error;
  uint16_t bound = 0;
  BOOST_TEST(!io::reserveSocket("not-an-address", 25, 16, bound, error));
  BOOST_TEST(error == "not a numeric IP address: not-an-address");
}

BOOST_AUTO_TEST_SUITE_END()
