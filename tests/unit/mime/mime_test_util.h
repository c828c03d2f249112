// Helpers for the MIME parser tests: messages are written with "\n" in the source and turned
// into CRLF text (RFC 5322 §2.1) before parsing; file reading and the corpus message list;
// printers for Boost.Test.
// Test code only.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/mime/message.h"

namespace mxgate::mime::test {

inline std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    if (c == '\n') {
      out.push_back('\r');
    }
    out.push_back(c);
  }
  return out;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The messages of the shared MIME corpus (corpora/mime): *.eml, *.msg and python-email/*.txt,
// sorted.
inline std::vector<std::filesystem::path> corpusMessages() {
  std::vector<std::filesystem::path> files;
  const std::filesystem::path root = std::filesystem::path(MXGATE_SHARED_DIR) / "corpora" / "mime";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const std::string ext = entry.path().extension().string();
    const bool python = ext == ".txt" && entry.path().parent_path().filename() == "python-email";
    if (entry.is_regular_file() && (ext == ".eml" || ext == ".msg" || python)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mxgate::mime::test

namespace mxgate::mime {

// Printers for Boost.Test messages (found by argument-dependent lookup).
inline std::ostream& operator<<(std::ostream& out, const HeaderField& field) {
  return out << field.name << ": " << field.value;
}

inline std::ostream& operator<<(std::ostream& out, const Mailbox& box) {
  return out << '"' << box.name << "\" <" << box.email << '>';
}

}  // namespace mxgate::mime
