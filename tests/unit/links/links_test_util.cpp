// Helpers shared by the links unit tests; see links_test_util.h. Test-only; single thread.
#include "links_test_util.h"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

namespace mxgate::links::test {

std::string replaceOnce(const std::string& text, std::string_view from, std::string_view to, size_t& from_pos) {
  const size_t at = text.find(from, from_pos);
  BOOST_TEST_REQUIRE(at != std::string::npos, "missing in the input: " << from);
  std::string out = text.substr(0, at);
  out += to;
  out += text.substr(at + from.size());
  from_pos = at + to.size();
  return out;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string toCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out += '\r';
    }
    out += text[i];
  }
  return out;
}

}  // namespace mxgate::links::test
