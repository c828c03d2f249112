// Unit tests for the structured logger: escaping of untrusted text, one line per event,
// text and JSON formats.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <string>

#include "mxgate/base/log.h"

namespace {

std::string capture(mxgate::log::Format format, void (*emit)(),
                    mxgate::log::Level level = mxgate::log::Level::Debug) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  mxgate::log::configure(level, format, fds[1]);
  emit();
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  mxgate::log::configure(mxgate::log::Level::Info, mxgate::log::Format::Text, 2);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(structured_log)

BOOST_AUTO_TEST_CASE(escape_neutralises_control_bytes) {
  BOOST_TEST(mxgate::log::escape("a\r\nb") == "a\\x0d\\x0ab");
  BOOST_TEST(mxgate::log::escape(std::string("x\0y", 3)) == "x\\x00y");
  BOOST_TEST(mxgate::log::escape("q\"\\") == "q\\x22\\x5c");
  BOOST_TEST(mxgate::log::escape("abcdef", 3) == "abc...");
}

BOOST_AUTO_TEST_CASE(text_line_has_id_first_and_one_newline) {
  std::string out = capture(mxgate::log::Format::Text, [] {
    mxgate::log::info("0ABC", "accepted").kv("from", "a@b\r\nevent=forged").kv("size", 42u);
  });
  BOOST_TEST(out.find(" info 0ABC: event=accepted from=") != std::string::npos);
  BOOST_TEST(out.find("size=42\n") != std::string::npos);
  BOOST_TEST(std::count(out.begin(), out.end(), '\n') == 1);
  BOOST_TEST(out.find("\\x0d\\x0a") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_line_is_one_object) {
  std::string out = capture(mxgate::log::Format::Json, [] {
    mxgate::log::warn("-", "spool").kv("reason", "disk \"full\"").kv("ok", false);
  });
  BOOST_TEST(out.front() == '{');
  BOOST_TEST(out.find("\"event\":\"spool\"") != std::string::npos);
  BOOST_TEST(out.find("\"ok\":false}\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(level_filtering) {
  std::string out = capture(
      mxgate::log::Format::Text,
      [] {
        mxgate::log::info("-", "dropped");
        mxgate::log::error("-", "kept");
      },
      mxgate::log::Level::Warn);
  BOOST_TEST(out.find("dropped") == std::string::npos);
  BOOST_TEST(out.find("event=kept") != std::string::npos);
  mxgate::log::Level level;
  BOOST_TEST(mxgate::log::parseLevel("debug", level));
  BOOST_TEST((level == mxgate::log::Level::Debug));
  BOOST_TEST(!mxgate::log::parseLevel("verbose", level));
}

BOOST_AUTO_TEST_SUITE_END()
