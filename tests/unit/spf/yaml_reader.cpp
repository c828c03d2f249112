// The YAML subset reader for the openspf test suites (see yaml_reader.h). Test support only.
#include "yaml_reader.h"

#include <algorithm>
#include <cstdint>

namespace mxgate::spf::test {
namespace {

struct Line {
  size_t number = 0;
  size_t indent = 0;
  std::string_view content;  // after the indentation, trailing spaces removed
  std::string_view full;     // after the indentation, as written (block scalars keep it)
};

bool isSkippable(const Line& line) { return line.content.empty() || line.content[0] == '#'; }

bool isListItem(std::string_view content) {
  return content == "-" || (content.size() > 1 && content[0] == '-' && content[1] == ' ');
}

std::string_view trimRight(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view trimLeft(std::string_view text) {
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  return text;
}

void appendUtf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else {  // \xNN escapes only: at most U+00FF
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

class Parser {
 public:
  Parser(std::vector<Line> lines, std::string& error) : lines_(std::move(lines)), error_(error) {}

  YamlNode document() { return node(0); }

 private:
  void fail(const std::string& what, size_t line) {
    if (error_.empty()) {
      error_ = "line " + std::to_string(line) + ": " + what;
    }
  }

  void skip() {
    while (pos_ < lines_.size() && isSkippable(lines_[pos_])) {
      ++pos_;
    }
  }

  // The node whose first line is the next significant one, if it is indented at least `min`.
  YamlNode node(size_t min) {
    skip();
    if (pos_ >= lines_.size() || lines_[pos_].indent < min) {
      return {};
    }
    const Line& line = lines_[pos_];
    if (isListItem(line.content)) {
      return list(line.indent);
    }
    size_t colon = 0;
    if (keyEnd(line.content, colon)) {
      return map(line.indent);
    }
    ++pos_;
    return inlineValue(line.content, line);
  }

  YamlNode list(size_t indent) {
    YamlNode out;
    out.kind = YamlNode::Kind::List;
    for (skip(); pos_ < lines_.size() && lines_[pos_].indent == indent && isListItem(lines_[pos_].content); skip()) {
      Line& line = lines_[pos_];
      const std::string_view rest = trimLeft(line.content.substr(1));
      if (rest.empty()) {
        ++pos_;
        out.items.push_back(node(indent + 1));
        continue;
      }
      // The item starts on this line: read it as if it began at its own column.
      line.indent += line.content.size() - rest.size();
      line.content = rest;
      out.items.push_back(node(line.indent));
    }
    return out;
  }

  // Finds the ':' ending a map key in `content` (outside quotes); false if there is none.
  static bool keyEnd(std::string_view content, size_t& colon) {
    size_t i = 0;
    if (!content.empty() && (content[0] == '"' || content[0] == '\'')) {
      const char quote = content[0];
      for (i = 1; i < content.size() && content[i] != quote; ++i) {
        if (quote == '"' && content[i] == '\\') {
          ++i;
        }
      }
      ++i;
      if (i < content.size() && content[i] == ':') {
        colon = i;
        return true;
      }
      return false;
    }
    if (!content.empty() && content[0] == '[') {
      return false;
    }
    for (i = 0; i < content.size(); ++i) {
      if (content[i] == ':' && (i + 1 == content.size() || content[i + 1] == ' ')) {
        colon = i;
        return true;
      }
    }
    return false;
  }

  YamlNode map(size_t indent) {
    YamlNode out;
    out.kind = YamlNode::Kind::Map;
    for (skip(); pos_ < lines_.size() && lines_[pos_].indent == indent && !isListItem(lines_[pos_].content); skip()) {
      const Line line = lines_[pos_];
      size_t colon = 0;
      if (!keyEnd(line.content, colon)) {
        fail("expected \"key:\"", line.number);
        ++pos_;
        continue;
      }
      const std::string_view key_text = line.content.substr(0, colon);
      const std::string key = key_text.empty() || (key_text[0] != '"' && key_text[0] != '\'')
                                  ? std::string(key_text)
                                  : inlineValue(key_text, line).scalar;
      const std::string_view rest = trimLeft(line.content.substr(colon + 1));
      ++pos_;
      YamlNode value;
      if (rest.empty()) {
        skip();
        const bool same_indent_list =
            pos_ < lines_.size() && lines_[pos_].indent == indent && isListItem(lines_[pos_].content);
        value = same_indent_list ? list(indent) : node(indent + 1);  // a list may sit at its key's indentation
      } else if (rest[0] == '|' || rest[0] == '>') {
        value = blockScalar(indent, rest);
      } else {
        value = inlineValue(rest, line);
        if (value.kind == YamlNode::Kind::Scalar && rest[0] != '"' && rest[0] != '\'') {
          continuePlain(indent, value.scalar);
        }
      }
      out.entries.push_back(YamlEntry{key, std::move(value)});
    }
    return out;
  }

  // A plain scalar continues on the following, deeper-indented lines (folded with spaces).
  void continuePlain(size_t indent, std::string& scalar) {
    while (pos_ < lines_.size() && !lines_[pos_].content.empty() && lines_[pos_].indent > indent) {
      scalar += ' ';
      scalar += lines_[pos_].content;
      ++pos_;
    }
  }

  YamlNode blockScalar(size_t indent, std::string_view header) {
    const bool folded = header[0] == '>';
    const bool strip = header.find('-') != std::string_view::npos;
    YamlNode out;
    out.kind = YamlNode::Kind::Scalar;
    size_t block_indent = 0;
    while (pos_ < lines_.size() && (lines_[pos_].content.empty() || lines_[pos_].indent > indent)) {
      const Line& line = lines_[pos_];
      if (!line.content.empty() && block_indent == 0) {
        block_indent = line.indent;
      }
      if (!out.scalar.empty()) {
        out.scalar += folded ? ' ' : '\n';
      }
      if (!line.content.empty()) {
        out.scalar.append(line.indent > block_indent ? line.indent - block_indent : 0, ' ');
        out.scalar += line.full;
      }
      ++pos_;
    }
    while (!out.scalar.empty() && (out.scalar.back() == '\n' || out.scalar.back() == ' ')) {
      out.scalar.pop_back();
    }
    if (!strip && !out.scalar.empty()) {
      out.scalar += '\n';
    }
    return out;
  }

  // A scalar or flow list on one line.
  YamlNode inlineValue(std::string_view text, const Line& line) {
    YamlNode out;
    if (text[0] == '[') {
      out.kind = YamlNode::Kind::List;
      size_t i = 1;
      for (;;) {
        while (i < text.size() && text[i] == ' ') {
          ++i;
        }
        if (i >= text.size()) {
          fail("unterminated flow list", line.number);
          return out;
        }
        if (text[i] == ']') {
          return out;
        }
        YamlNode item;
        item.kind = YamlNode::Kind::Scalar;
        if (text[i] == '"' || text[i] == '\'') {
          i = quoted(text, i, item.scalar, line);
        } else {
          const size_t end = text.find_first_of(",]", i);
          if (end == std::string_view::npos) {
            fail("unterminated flow list", line.number);
            return out;
          }
          item.scalar = std::string(trimRight(text.substr(i, end - i)));
          i = end;
        }
        out.items.push_back(std::move(item));
        while (i < text.size() && text[i] == ' ') {
          ++i;
        }
        if (i < text.size() && text[i] == ',') {
          ++i;
        }
      }
    }
    out.kind = YamlNode::Kind::Scalar;
    if (text[0] == '"' || text[0] == '\'') {
      quoted(text, 0, out.scalar, line);
      return out;
    }
    const size_t comment = text.find(" #");
    out.scalar = std::string(trimRight(text.substr(0, comment)));
    return out;
  }

  // Reads the quoted scalar starting at text[start]; returns the index after it.
  size_t quoted(std::string_view text, size_t start, std::string& out, const Line& line) {
    const char quote = text[start];
    size_t i = start + 1;
    while (i < text.size()) {
      const char c = text[i];
      if (c == quote) {
        if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          out += '\'';
          i += 2;
          continue;
        }
        return i + 1;
      }
      if (quote == '"' && c == '\\' && i + 1 < text.size()) {
        const char e = text[i + 1];
        i += 2;
        switch (e) {
          case '0':
            out += '\0';
            break;
          case '\\':
          case '"':
          case '/':
            out += e;
            break;
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'x': {
            const int high = i + 1 < text.size() ? hexValue(text[i]) : -1;
            const int low = high >= 0 ? hexValue(text[i + 1]) : -1;
            if (low < 0) {
              fail("bad \\x escape", line.number);
              return text.size();
            }
            appendUtf8(out, static_cast<uint32_t>(high * 16 + low));
            i += 2;
            break;
          }
          default:
            fail(std::string("unsupported escape \\") + e, line.number);
            return text.size();
        }
        continue;
      }
      out += c;
      ++i;
    }
    fail("unterminated quoted scalar", line.number);
    return i;
  }

  std::vector<Line> lines_;
  std::string& error_;
  size_t pos_ = 0;
};

}  // namespace

const YamlNode* YamlNode::find(std::string_view key) const {
  for (const auto& [name, value] : entries) {
    if (name == key) {
      return &value;
    }
  }
  return nullptr;
}

std::vector<YamlNode> parseYamlDocuments(std::string_view text, std::string& error) {
  std::vector<YamlNode> documents;
  std::vector<Line> lines;
  bool started = false;
  auto flush = [&] {
    if (started || !lines.empty()) {
      documents.push_back(Parser(std::move(lines), error).document());
    }
    lines.clear();
  };
  size_t number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    std::string_view full = text.substr(start, end - start);
    if (!full.empty() && full.back() == '\r') {
      full.remove_suffix(1);
    }
    const std::string_view raw = trimRight(full);
    start = end + 1;
    ++number;
    if (raw.substr(0, 3) == "---") {
      flush();
      started = true;
      continue;
    }
    Line line;
    line.number = number;
    while (line.indent < raw.size() && raw[line.indent] == ' ') {
      ++line.indent;
    }
    line.content = raw.substr(line.indent);
    line.full = full.substr(std::min(line.indent, full.size()));
    if (!started && isSkippable(line)) {
      continue;
    }
    lines.push_back(line);
  }
  flush();
  return documents;
}

}  // namespace mxgate::spf::test
