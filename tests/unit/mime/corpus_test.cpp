// mime::parse over the shared MIME corpus (corpora/mime, see its PROVENANCE.md): every message
// parses without crashing and yields well-formed UTF-8; part trees are compared with the
// expectations of two mature parsers, Apache mime4j (X.xml: the entity tree with its header
// fields; read by the small XML reader below) and Stalwart mail-parser (NNN.crlf.json: the flat
// part list). The match counts are floors measured when this test was written (mime4j 73 of 80,
// Stalwart 93 of 107), so a regression fails; mismatches are printed as test messages. The known
// differences, all on malformed input:
//   - an empty part between adjacent boundaries: mime4j keeps an empty text/plain, GMime drops it
//     (double-bound, 2002_06_12_doublebound, multipartemptypart);
//   - a boundary line with text after it, or a boundary beyond RFC 2046's 70 characters: mime4j
//     accepts it, GMime does not (ending-boundaries, very-very-long-boundary);
//   - two Content-Type fields: GMime uses the last, the others the first (multi-bad, malformed/020, 021);
//   - "Content-Type: text" without a subtype: mime4j reads text/plain, GMime application/octet-stream
//     (multi-digest); a boundary parameter after a missing ';' is seen by Stalwart only (malformed/017);
//   - Dovecot's boundary-prefix cases (nested boundaries that prefix the outer one; malformed/000,
//     001, 004, 007, 008, 009, 011, 012, 016) are split differently;
//   - an empty message/rfc822 part gets a default text/plain body in GMime (malformed/022), and a
//     truncated forward is read as three message/rfc822 parts by GMime, one by Stalwart (thirdparty/015).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mime_test_util.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"
#include "mxgate/mime/message.h"

namespace mxgate::mime {
namespace {

namespace fs = std::filesystem;
using test::readFile;

const fs::path kCorpus = fs::path(MXGATE_SHARED_DIR) / "corpora" / "mime";

// The media type of a Content-Type value ("type/subtype", lower case), or "" when malformed.
std::string mediaType(std::string_view value) {
  const size_t begin = value.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) {
    return {};
  }
  const size_t end = value.find_first_of("; \t\r\n(", begin);
  const std::string type = ascii::toLowerCopy(value.substr(begin, end == std::string_view::npos ? end : end - begin));
  const size_t slash = type.find('/');
  return slash == std::string::npos || slash == 0 || slash + 1 == type.size() ? std::string() : type;
}

std::string defaultType(const std::string& parent) {
  return parent == "multipart/digest" ? "message/rfc822" : "text/plain";
}

// ---- mime4j X.xml -------------------------------------------------------------------------

struct Element {
  std::string name;
  std::string text;
  std::vector<std::unique_ptr<Element>> children;

  const Element* child(std::string_view wanted) const {
    for (const auto& element : children) {
      if (element->name == wanted) {
        return element.get();
      }
    }
    return nullptr;
  }
};

std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const size_t semi = text.find(';', i);
      const std::string_view entity = text.substr(i + 1, semi == std::string_view::npos ? 0 : semi - i - 1);
      const char* replacement = entity == "lt" ? "<" : entity == "gt" ? ">" : entity == "amp" ? "&"
                              : entity == "quot" ? "\"" : entity == "apos" ? "'" : nullptr;
      if (replacement != nullptr) {
        out += replacement;
        i = semi;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// A reader for the element/text subset mime4j writes (no attributes, comments or CDATA);
// bytes are taken as they are, so Latin-1 text inside does not matter.
std::unique_ptr<Element> readXml(std::string_view xml) {
  auto root = std::make_unique<Element>();
  std::vector<Element*> open = {root.get()};
  size_t pos = 0;
  while (pos < xml.size()) {
    const size_t lt = xml.find('<', pos);
    if (lt == std::string_view::npos) {
      break;
    }
    open.back()->text += unescape(xml.substr(pos, lt - pos));
    const size_t gt = xml.find('>', lt);
    if (gt == std::string_view::npos) {
      break;
    }
    const std::string_view tag = xml.substr(lt + 1, gt - lt - 1);
    if (!tag.empty() && tag.front() == '/') {
      if (open.size() > 1) {
        open.pop_back();
      }
    } else if (!tag.empty() && tag.front() != '?' && tag.front() != '!') {
      const bool empty = tag.back() == '/';
      auto element = std::make_unique<Element>();
      element->name = std::string(tag.substr(0, empty ? tag.size() - 1 : tag.size()));
      Element* added = element.get();
      open.back()->children.push_back(std::move(element));
      if (!empty) {
        open.push_back(added);
      }
    }
    pos = gt + 1;
  }
  return root;
}

// The structure string (as mime::Message::structure) of a mime4j <message> or <body-part>.
std::string mime4jTree(const Element& entity, const std::string& parent) {
  std::string type;
  bool seen = false;  // the first Content-Type field counts
  if (const Element* header = entity.child("header"); header != nullptr) {
    for (const auto& field : header->children) {
      const std::string_view text = field->text;
      const size_t colon = text.find(':');
      if (colon == std::string_view::npos || seen) {
        continue;
      }
      std::string_view name = text.substr(0, colon);
      name.remove_prefix(std::min(name.size(), name.find_first_not_of(" \t\r\n")));
      if (ascii::equalsIgnoreCase(name, "content-type")) {
        seen = true;
        type = mediaType(text.substr(colon + 1));
      }
    }
  }
  if (type.empty()) {
    type = defaultType(parent);
  }
  if (const Element* multipart = entity.child("multipart"); multipart != nullptr) {
    std::string children;
    for (const auto& part : multipart->children) {
      if (part->name == "body-part") {
        children += (children.empty() ? "" : ",") + mime4jTree(*part, type);
      }
    }
    return children.empty() ? type : type + "(" + children + ")";
  }
  if (const Element* message = entity.child("message"); message != nullptr) {
    return type + "(" + mime4jTree(*message, "") + ")";
  }
  return type;
}

// ---- Stalwart NNN.crlf.json ---------------------------------------------------------------------

std::string stalwartType(const nlohmann::json& part, const std::string& parent) {
  for (const auto& header : part.at("headers")) {
    if (header.at("name") == "content_type" && header.at("value").is_object() &&
        header.at("value").contains("ContentType")) {
      const auto& type = header.at("value").at("ContentType");
      if (!type.at("c_subtype").is_string()) {
        return defaultType(parent);
      }
      return ascii::toLowerCopy(type.at("c_type").get<std::string>() + "/" + type.at("c_subtype").get<std::string>());
    }
  }
  return defaultType(parent);
}

std::string stalwartTree(const nlohmann::json& message, size_t index, const std::string& parent) {
  const auto& part = message.at("parts").at(index);
  const std::string type = stalwartType(part, parent);
  const auto& body = part.at("body");
  if (body.is_object() && body.contains("Multipart")) {
    std::string children;
    for (const auto& child : body.at("Multipart")) {
      children += (children.empty() ? "" : ",") + stalwartTree(message, child.get<size_t>(), type);
    }
    return children.empty() ? type : type + "(" + children + ")";
  }
  if (body.is_object() && body.contains("Message")) {
    return type + "(" + stalwartTree(body.at("Message"), 0, "") + ")";
  }
  return type;
}

bool allWellFormed(const Message& m) {
  bool ok = utf8::isWellFormed(m.text) && utf8::isWellFormed(m.html) && utf8::isWellFormed(m.subject);
  for (const HeaderField& field : m.headers) {
    ok = ok && utf8::isWellFormed(field.name) && utf8::isWellFormed(field.value);
  }
  for (const Attachment& attachment : m.attachments) {
    ok = ok && utf8::isWellFormed(attachment.filename) && attachment.size >= attachment.content.size();
  }
  return ok;
}

BOOST_AUTO_TEST_SUITE(mime_corpus)

BOOST_AUTO_TEST_CASE(every_message_parses) {
  const std::vector<fs::path> files = test::corpusMessages();
  size_t parsed = 0;
  for (const fs::path& file : files) {
    BOOST_TEST_CONTEXT(file.string()) {
      const Message m = parse(readFile(file.string()));
      BOOST_TEST(allWellFormed(m));
      BOOST_TEST(m.part_count + m.skipped_parts > 0u);
      ++parsed;
    }
  }
  BOOST_TEST_MESSAGE("MIME corpus: " << parsed << " of " << files.size() << " messages parsed");
  BOOST_TEST(files.size() == 245u);  // stalwart 107, mime4j 32 + 48, python-email 47, mailparser 10, torture 1
  BOOST_TEST(parsed == files.size());
}

BOOST_AUTO_TEST_CASE(mime4j_trees) {
  size_t compared = 0;
  size_t matched = 0;
  for (const char* folder : {"testmsgs", "mimetools-testmsgs"}) {
    for (const auto& entry : fs::directory_iterator(kCorpus / "mime4j" / folder)) {
      const fs::path& xml = entry.path();
      const std::string stem = xml.stem().string();
      if (xml.extension() != ".xml" || stem.ends_with("_decoded")) {
        continue;
      }
      const fs::path msg = fs::path(xml).replace_extension(".msg");
      const auto root = readXml(readFile(xml.string()));
      const Element* message = root->child("message");
      if (message == nullptr || !fs::exists(msg)) {
        continue;
      }
      ++compared;
      const std::string expected = mime4jTree(*message, "");
      const std::string actual = parse(readFile(msg.string())).structure;
      if (expected == actual) {
        ++matched;
      } else {
        BOOST_TEST_MESSAGE("mime4j mismatch " << folder << "/" << msg.filename().string() << "\n  expected " << expected
                                              << "\n  actual   " << actual);
      }
    }
  }
  BOOST_TEST_MESSAGE("mime4j part trees: " << matched << " of " << compared << " match");
  BOOST_TEST(compared == 80u);
  BOOST_TEST(matched >= 73u);
}

BOOST_AUTO_TEST_CASE(stalwart_trees) {
  size_t compared = 0;
  size_t matched = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kCorpus / "stalwart-mail-parser" / "eml")) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".crlf.json")) {
      continue;
    }
    const fs::path eml = entry.path().parent_path() / (name.substr(0, name.size() - 10) + ".eml");
    const nlohmann::json expected_json = nlohmann::json::parse(readFile(entry.path().string()));
    ++compared;
    const std::string expected = stalwartTree(expected_json, 0, "");
    const std::string actual = parse(readFile(eml.string())).structure;
    if (expected == actual) {
      ++matched;
    } else {
      BOOST_TEST_MESSAGE("stalwart mismatch " << eml.parent_path().filename().string() << "/" << eml.filename().string()
                                              << "\n  expected " << expected << "\n  actual   " << actual);
    }
  }
  BOOST_TEST_MESSAGE("stalwart part trees: " << matched << " of " << compared << " match");
  BOOST_TEST(compared == 107u);
  BOOST_TEST(matched >= 93u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::mime
