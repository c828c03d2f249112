// A reader for the YAML subset of the openspf test suites (shared/corpora/spf/*.yml): several
// documents separated by "---", block maps and lists by indentation, plain / single-quoted /
// double-quoted scalars (\xNN, \0, \", \\ escapes), flow lists of scalars, multi-line plain
// scalars and block scalars (| |- > >-; folded ones are simply joined with spaces, which only
// the suites' free-text descriptions and comments use). No anchors, tags or flow maps: the
// suites have none. Checked against PyYAML: every test field and all zone data read the same.
// Test support only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxgate::spf::test {

struct YamlEntry;

struct YamlNode {
  enum class Kind { Null, Scalar, List, Map };
  Kind kind = Kind::Null;
  std::string scalar;
  std::vector<YamlNode> items;     // List
  std::vector<YamlEntry> entries;  // Map, in file order

  // The value of `key` in a map, or nullptr.
  const YamlNode* find(std::string_view key) const;
};

struct YamlEntry {
  std::string key;
  YamlNode value;
};

// Parses every document; on a construct outside the subset, sets `error` (with the line
// number) and returns what was read so far.
std::vector<YamlNode> parseYamlDocuments(std::string_view text, std::string& error);

}  // namespace mxgate::spf::test
