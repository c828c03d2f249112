// Helpers shared by the auth unit tests (see auth_test_util.h).
#include "auth_test_util.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "mxgate/base/ascii.h"

namespace mxgate::auth::test {

std::string shared(std::string_view relative) { return std::string(MXGATE_SHARED_DIR) + "/corpora/" + std::string(relative); }

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string toCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out += "\r\n";
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string headerSection(std::string_view message) {
  const size_t end = message.find("\r\n\r\n");
  return std::string(end == std::string_view::npos ? message : message.substr(0, end + 4));
}

dns::AnswerPtr txtAnswer(std::vector<std::string> texts) {
  auto answer = std::make_shared<dns::Answer>();
  answer->status = dns::Status::Ok;
  answer->texts = std::move(texts);
  return answer;
}

dns::AnswerPtr failureAnswer(dns::Status status) {
  auto answer = std::make_shared<dns::Answer>();
  answer->status = status;
  return answer;
}

namespace {

std::string key(std::string_view name) {
  std::string out = ascii::toLowerCopy(name);
  if (!out.empty() && out.back() == '.') {
    out.pop_back();
  }
  return out;
}

}  // namespace

void FakeDns::add(const std::string& name, dns::AnswerPtr answer) { answers_[key(name)] = std::move(answer); }

void FakeDns::addText(const std::string& name, const std::string& text) {
  auto& slot = answers_[key(name)];
  std::vector<std::string> texts = slot && slot->status == dns::Status::Ok ? slot->texts : std::vector<std::string>{};
  texts.push_back(text);
  slot = txtAnswer(std::move(texts));
}

void FakeDns::loadZone(const std::string& path) {
  std::istringstream in(readFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';') {
      continue;
    }
    std::istringstream words(line);
    std::string name, klass, type;
    words >> name >> klass >> type;
    if (type != "TXT") {
      continue;
    }
    std::string text;
    for (size_t pos = line.find('"'); pos != std::string::npos; pos = line.find('"', pos)) {
      const size_t end = line.find('"', pos + 1);
      text += line.substr(pos + 1, end - pos - 1);
      pos = end + 1;
    }
    addText(name, text);
  }
}

void FakeDns::loadFakeDnsDat(const std::string& path) {
  std::istringstream in(readFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const size_t space = line.find_first_of(" \t");
    const std::string name = line.substr(0, space);
    const size_t data_start = line.find_first_not_of(" \t", space);
    const std::string data = data_start == std::string::npos ? "" : line.substr(data_start);
    if (data == "NXDOMAIN") {
      add(name, failureAnswer(dns::Status::NxDomain));
    } else if (data == "~~Query timed out~~") {
      add(name, failureAnswer(dns::Status::Timeout));
    } else if (data == "~~SERVFAIL~~") {
      add(name, failureAnswer(dns::Status::ServFail));
    } else if (data == "\"\"") {
      addText(name, "");
    } else {
      addText(name, data);
    }
  }
}

dns::AnswerPtr FakeDns::lookup(const std::string& name) const {
  queries_.push_back(name);
  const auto found = answers_.find(key(name));
  return found == answers_.end() ? failureAnswer(dns::Status::NxDomain) : found->second;
}

KeyLookup FakeDns::keyLookup() const {
  return [this](const std::string& name) { return lookup(name); };
}

std::string writeTempFile(const std::string& name, std::string_view content) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
  return path;
}

std::string runCommand(const std::string& command, int& status) {
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    throw std::runtime_error("cannot run " + command);
  }
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    output.append(buffer, n);
  }
  status = pclose(pipe);
  return output;
}

std::vector<DkimSignature> verify(std::string_view message, const FakeDns& dns, const DkimSettings& settings) {
  DkimVerifier verifier(settings, dns.keyLookup());
  verifier.feed(message);
  return verifier.finish();
}

}  // namespace mxgate::auth::test
