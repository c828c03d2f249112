// Helpers for the scanner tests: a temporary signature directory filled from
// shared/corpora/clamav, the EICAR bytes decoded at run time from eicar.com.b64 (the test
// string itself is never stored in the repository), RFC 5322 / MIME (RFC 2045-2046) message
// builders with base64 attachments, and zip archives built with Python's zipfile.
// Test thread only.
#pragma once

#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mxgate/scan/scanner.h"

namespace mxgate::scan::test {

namespace fs = std::filesystem;

inline const std::string kCorpus = MXGATE_SHARED_DIR "/corpora/clamav";
inline const std::string kTestFiles = "/usr/share/clamav-testfiles";
inline const std::string kEicarHdbName = "Eicar-Test-Signature.UNOFFICIAL";
inline const std::string kEicarNdbName = "Eicar-Test-Signature-ndb.UNOFFICIAL";
inline const std::string kClamExeName = "ClamAV-Test-File.UNOFFICIAL";

inline std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  BOOST_TEST_REQUIRE(out.good(), "cannot write " << path);
}

// Base64 (RFC 2045 section 6.8) in lines of 76 characters, CRLF-terminated.
inline std::string base64Lines(std::string_view data) {
  std::string out;
  constexpr size_t kChunk = 57;  // 57 bytes -> 76 characters
  std::string line(80, '\0');
  for (size_t at = 0; at < data.size(); at += kChunk) {
    size_t n = std::min(kChunk, data.size() - at);
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(line.data()),
                                  reinterpret_cast<const unsigned char*>(data.data() + at),
                                  static_cast<int>(n));
    out.append(line.data(), static_cast<size_t>(written));
    out += "\r\n";
  }
  return out;
}

inline std::string base64Decode(std::string text) {
  std::erase_if(text, [](char c) { return c == '\n' || c == '\r' || c == ' '; });
  std::string out(text.size() / 4 * 3, '\0');
  int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  BOOST_TEST_REQUIRE(written >= 0);
  size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) {
    ++padding;
  }
  out.resize(static_cast<size_t>(written) - padding);
  return out;
}

// The 68-byte EICAR test file, decoded from the shared corpus.
inline std::string eicar() {
  std::string bytes = base64Decode(readFile(kCorpus + "/eicar.com.b64"));
  BOOST_TEST_REQUIRE(bytes.size() == 68u);
  return bytes;
}

inline std::string md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  BOOST_TEST_REQUIRE(EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) == 1);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

// A string no earlier call returned: keeps inputs distinct so libclamav's clean cache (keyed by
// content hash) never answers for a scan a test depends on.
inline std::string uniqueToken() {
  static std::atomic<uint64_t> next{0};
  return std::to_string(getpid()) + "-" + std::to_string(next.fetch_add(1));
}

// Deterministic, varied bytes (xorshift), so large inputs are neither compressible nor cached.
inline std::string noise(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    c = static_cast<char>(state & 0xff);
  }
  return out;
}

inline std::string textMessage(std::string_view body) {
  std::string message =
      "From: Alice <alice@example.org>\r\n"
      "To: support@tenant.example\r\n"
      "Subject: order " + uniqueToken() + "\r\n"
      "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
      "Message-ID: <" + uniqueToken() + "@example.org>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n";
  message += body;
  message += "\r\n";
  return message;
}

// multipart/mixed: a text part and one base64 attachment.
inline std::string messageWithAttachment(std::string_view filename, std::string_view content,
                                         std::string_view content_type = "application/octet-stream") {
  std::string boundary = "=_mxgate_" + uniqueToken();
  std::string message =
      "From: Alice <alice@example.org>\r\n"
      "To: support@tenant.example\r\n"
      "Subject: attachment " + uniqueToken() + "\r\n"
      "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n"
      "\r\n"
      "This is a multi-part message in MIME format.\r\n"
      "--" + boundary + "\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Please see the attached file.\r\n"
      "--" + boundary + "\r\n"
      "Content-Type: " + std::string(content_type) + "; name=\"" + std::string(filename) + "\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment; filename=\"" + std::string(filename) + "\"\r\n"
      "\r\n";
  message += base64Lines(content);
  message += "--" + boundary + "--\r\n";
  return message;
}

// A temporary directory, removed with everything in it.
struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mxgate-scan-XXXXXX").string();
    BOOST_TEST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path path;
};

// A zip archive holding entries (name, content) in order, built with Python's zipfile.
inline std::string makeZip(const TempDir& scratch, const std::vector<std::pair<std::string, std::string>>& entries) {
  fs::path work = scratch.path / ("zip-" + uniqueToken());
  fs::create_directories(work);
  std::string command = "/usr/bin/python3 -c 'import sys, zipfile\n"
                        "with zipfile.ZipFile(sys.argv[1], \"w\", zipfile.ZIP_DEFLATED) as z:\n"
                        "    for i in range(2, len(sys.argv), 2):\n"
                        "        z.write(sys.argv[i + 1], sys.argv[i])\n' " +
                        (work / "out.zip").string();
  for (size_t i = 0; i < entries.size(); ++i) {
    fs::path file = work / ("entry" + std::to_string(i));
    writeFile(file, entries[i].second);
    command += " " + entries[i].first + " " + file.string();
  }
  BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, command);
  return readFile(work / "out.zip");
}

// A signature directory holding the corpus' test-signatures.hdb and eicar.ndb, and a temp dir
// for libclamav.
struct SignatureFixture {
  SignatureFixture() {
    signatures = root.path / "signatures";
    temp = root.path / "tmp";
    fs::create_directories(signatures);
    fs::create_directories(temp);
    fs::copy_file(kCorpus + "/test-signatures.hdb", signatures / "test-signatures.hdb");
    fs::copy_file(kCorpus + "/eicar.ndb", signatures / "eicar.ndb");
  }

  ScanSettings settings() const {
    ScanSettings settings;
    settings.signatures = signatures.string();
    settings.temp_dir = temp.string();
    return settings;
  }

  std::unique_ptr<Scanner> make(const ScanSettings& settings) const {
    std::string error;
    std::unique_ptr<Scanner> scanner = Scanner::create(settings, error);
    BOOST_TEST_REQUIRE(scanner != nullptr, error);
    return scanner;
  }
  std::unique_ptr<Scanner> make() const { return make(settings()); }

  TempDir root;
  fs::path signatures;
  fs::path temp;
};

inline bool isEicarName(const std::string& name) {
  return name == kEicarHdbName || name == kEicarNdbName;
}

}  // namespace mxgate::scan::test
