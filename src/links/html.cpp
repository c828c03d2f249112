// HTML link rewriting: gumbo (the HTML5 parsing algorithm, WHATWG HTML §13.2) finds the href
// attributes of <a> and <area> elements; each new value is spliced over the attribute's
// original source text (quotes kept, entity-escaped), so every other byte of the document
// stays as it was. Values are read as browsers read URLs (WHATWG URL: outer C0/space trimmed,
// tab/newline removed). In Track mode the open pixel goes just before </body>.
// Gumbo's tree construction is quadratic in nesting depth and can clone formatting elements
// without bound, so a deep document (per the linear scan in html_scan.h) or a parse that
// outgrows its memory budget is handled tag by tag instead: the scan finds each <a>/<area>
// start tag and gumbo parses that tag alone. Pure; any thread.
#include <gumbo.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <optional>

#include "body_rewriters.h"
#include "html_scan.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/html.h"

namespace mxgate::links {
namespace detail {
namespace {

// Deeper documents (scan estimate) are not given to gumbo's tree construction whole.
constexpr size_t kMaxParseDepth = 256;
// Live bytes gumbo may hold while parsing a whole document: a fixed allowance plus a multiple
// of the input (ordinary documents stay far below it).
constexpr size_t kHeapAllowance = 16 * 1024 * 1024;
constexpr size_t kHeapPerInputByte = 32;

// Gumbo's allocations, chained so that everything is released in one loop (no recursive
// gumbo_destroy_output) and counted against a budget. When the budget runs out, allocate()
// jumps back to parse(), out of gumbo's C frames; the heap then frees what gumbo held.
class GumboHeap {
 public:
  explicit GumboHeap(size_t budget) : budget_(budget) {}
  GumboHeap(const GumboHeap&) = delete;
  GumboHeap& operator=(const GumboHeap&) = delete;
  ~GumboHeap() {
    while (head_.next != &head_) {
      Block* block = head_.next;
      unlink(block);
      std::free(block);
    }
  }

  // The parse of html, or nullptr when it ran out of budget.
  const GumboOutput* parse(std::string_view html) {
    GumboOptions options = kGumboDefaultOptions;
    options.allocator = &GumboHeap::allocate;
    options.deallocator = &GumboHeap::release;
    options.userdata = this;
    options.max_errors = 0;  // errors are not read; recording them copies the open-element stack
    if (setjmp(exhausted_) != 0) {
      return nullptr;
    }
    return gumbo_parse_with_options(&options, html.data(), html.size());
  }

 private:
  struct alignas(16) Block {
    Block* prev;
    Block* next;
    size_t size;
  };

  static void* allocate(void* self, size_t size) {
    auto* heap = static_cast<GumboHeap*>(self);
    if (size > heap->budget_ - heap->used_) {
      std::longjmp(heap->exhausted_, 1);
    }
    auto* block = static_cast<Block*>(std::malloc(sizeof(Block) + size));
    if (block == nullptr) {
      std::longjmp(heap->exhausted_, 1);
    }
    heap->used_ += size;
    block->size = size;
    block->prev = &heap->head_;
    block->next = heap->head_.next;
    heap->head_.next->prev = block;
    heap->head_.next = block;
    return block + 1;
  }

  static void release(void* self, void* pointer) {
    if (pointer == nullptr) {
      return;
    }
    Block* block = static_cast<Block*>(pointer) - 1;
    static_cast<GumboHeap*>(self)->used_ -= block->size;
    unlink(block);
    std::free(block);
  }

  static void unlink(Block* block) {
    block->prev->next = block->next;
    block->next->prev = block->prev;
  }

  Block head_{&head_, &head_, 0};
  size_t budget_;
  size_t used_ = 0;
  std::jmp_buf exhausted_;
};

// An href found in the document.
struct Candidate {
  size_t offset = 0;  // of the original value in the document (quotes included)
  size_t length = 0;
  std::string url;    // the value as a browser reads it
  bool no_track = false;
};

struct Links {
  std::vector<Candidate> candidates;  // in source order, once each
  size_t pixel_offset = 0;            // before </body>, else the end
};

struct Edit {
  size_t offset = 0;
  size_t length = 0;
  std::string text;
};

bool inside(std::string_view html, const GumboStringPiece& piece) {
  return piece.data != nullptr && piece.data >= html.data() && piece.length <= html.size() &&
         static_cast<size_t>(piece.data - html.data()) <= html.size() - piece.length;
}

size_t heapBudget(size_t input_bytes) {
  return kHeapAllowance + std::min(input_bytes, (SIZE_MAX - kHeapAllowance) / kHeapPerInputByte) * kHeapPerInputByte;
}

// The URL a browser reads from an attribute value. Gumbo turns C0 controls into U+FFFD, which
// browsers would have stripped from the ends, so U+FFFD is trimmed there too.
std::string browserUrl(std::string_view value) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  for (;;) {
    if (!value.empty() && static_cast<unsigned char>(value.front()) <= 0x20) {
      value.remove_prefix(1);
    } else if (value.starts_with(kReplacement)) {
      value.remove_prefix(kReplacement.size());
    } else {
      break;
    }
  }
  for (;;) {
    if (!value.empty() && static_cast<unsigned char>(value.back()) <= 0x20) {
      value.remove_suffix(1);
    } else if (value.ends_with(kReplacement)) {
      value.remove_suffix(kReplacement.size());
    } else {
      break;
    }
  }
  std::string url;
  url.reserve(value.size());
  for (char c : value) {
    if (c != '\t' && c != '\n' && c != '\r') {
      url += c;
    }
  }
  return url;
}

bool noTrack(const GumboVector& attributes) {
  if (gumbo_get_attribute(&attributes, "data-mxgate-no-track") != nullptr) {
    return true;
  }
  const GumboAttribute* setting = gumbo_get_attribute(&attributes, "clicktracking");
  return setting != nullptr && ascii::equalsIgnoreCase(setting->value, "off");
}

// Every <a href> and <area href> of the tree under root, without recursion.
void collectLinks(std::string_view html, const GumboNode* root, std::vector<Candidate>& out) {
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* node = stack.back();
    stack.pop_back();
    const GumboVector* children = nullptr;
    if (node->type == GUMBO_NODE_DOCUMENT) {
      children = &node->v.document.children;
    } else if (node->type == GUMBO_NODE_ELEMENT || node->type == GUMBO_NODE_TEMPLATE) {
      const GumboElement& element = node->v.element;
      children = &element.children;
      const GumboAttribute* href = element.tag == GUMBO_TAG_A || element.tag == GUMBO_TAG_AREA
                                       ? gumbo_get_attribute(&element.attributes, "href")
                                       : nullptr;
      if (href != nullptr && href->original_value.length > 0 && inside(html, href->original_value)) {
        out.push_back({static_cast<size_t>(href->original_value.data - html.data()), href->original_value.length,
                       browserUrl(href->value), noTrack(element.attributes)});
      }
    }
    if (children != nullptr) {
      for (unsigned int i = children->length; i > 0; --i) {
        stack.push_back(static_cast<const GumboNode*>(children->data[i - 1]));
      }
    }
  }
}

// Where </body> starts in the source, npos when the body has no end tag there.
size_t bodyEnd(std::string_view html, const GumboOutput& output) {
  if (output.root == nullptr || output.root->type != GUMBO_NODE_ELEMENT) {
    return std::string_view::npos;
  }
  const GumboVector& children = output.root->v.element.children;
  for (unsigned int i = 0; i < children.length; ++i) {
    const auto* child = static_cast<const GumboNode*>(children.data[i]);
    if (child->type == GUMBO_NODE_ELEMENT && child->v.element.tag == GUMBO_TAG_BODY) {
      const GumboStringPiece& end_tag = child->v.element.original_end_tag;
      if (end_tag.length > 0 && inside(html, end_tag)) {
        return static_cast<size_t>(end_tag.data - html.data());
      }
      break;
    }
  }
  return std::string_view::npos;
}

// The whole document through gumbo; nullopt when the parse outgrew its budget.
std::optional<Links> parsedLinks(std::string_view html) {
  GumboHeap heap(heapBudget(html.size()));
  const GumboOutput* output = heap.parse(html);
  if (output == nullptr || output->document == nullptr) {
    return std::nullopt;
  }
  Links links;
  collectLinks(html, output->document, links.candidates);
  // Source order, once each: the adoption agency clones <a> elements with their attributes.
  std::stable_sort(links.candidates.begin(), links.candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.offset < b.offset; });
  links.candidates.erase(std::unique(links.candidates.begin(), links.candidates.end(),
                                     [](const Candidate& a, const Candidate& b) { return a.offset == b.offset; }),
                         links.candidates.end());
  const size_t body_end = bodyEnd(html, *output);
  links.pixel_offset = body_end == std::string_view::npos ? html.size() : body_end;
  return links;
}

// Tag by tag: each <a>/<area> start tag the scan found, parsed alone.
Links scannedLinks(std::string_view html, const HtmlScan& scan) {
  Links links;
  for (const TagSpan& tag : scan.link_tags) {
    const std::string_view source = html.substr(tag.begin, tag.end - tag.begin);
    GumboHeap heap(heapBudget(source.size()));
    const GumboOutput* output = heap.parse(source);
    if (output != nullptr && output->document != nullptr) {
      collectLinks(html, output->document, links.candidates);
    }
  }
  links.pixel_offset = scan.body_end == std::string_view::npos ? html.size() : scan.body_end;
  return links;
}

// The edit that puts link in place of the attribute's original value, keeping its quotes.
Edit replacement(std::string_view html, const Candidate& candidate, std::string_view link) {
  Edit edit;
  edit.offset = candidate.offset;
  edit.length = candidate.length;
  const char first = html[candidate.offset];
  const bool quoted = (first == '"' || first == '\'') && candidate.length >= 2 &&
                      html[candidate.offset + candidate.length - 1] == first;
  const char quote = quoted ? first : '"';
  edit.text.reserve(link.size() + 2);
  edit.text += quote;
  html::appendEscaped(edit.text, link);
  edit.text += quote;
  return edit;
}

}  // namespace

bool rewriteHtmlInto(std::string_view html, LinkPolicy& policy, std::string& out,
                     std::vector<std::string>* no_track_urls) {
  if (!policy.active()) {
    return false;
  }
  const HtmlScan scan = scanHtml(html);
  std::optional<Links> parsed;
  if (scan.depth <= kMaxParseDepth) {
    parsed = parsedLinks(html);
  }
  const Links links = parsed ? std::move(*parsed) : scannedLinks(html, scan);

  std::vector<Edit> edits;
  for (const Candidate& candidate : links.candidates) {
    if (candidate.no_track) {
      if (no_track_urls != nullptr && httpHost(candidate.url)) {
        no_track_urls->push_back(candidate.url);
      }
      continue;
    }
    if (auto signed_link = policy.rewrite(candidate.url)) {
      edits.push_back(replacement(html, candidate, *signed_link));
    }
  }
  if (policy.wantsOpenPixel()) {
    Edit pixel;
    pixel.offset = links.pixel_offset;
    pixel.text = "<img src=\"";
    html::appendEscaped(pixel.text, policy.openPixelLink());
    pixel.text += R"(" width="1" height="1" alt="" style="display:none">)";
    edits.push_back(std::move(pixel));
  }
  if (edits.empty()) {
    return false;
  }
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.offset < b.offset; });

  size_t added = 0;
  for (const Edit& edit : edits) {
    added += edit.text.size();
  }
  std::string result;
  result.reserve(html.size() + added);
  size_t copied = 0;
  for (const Edit& edit : edits) {
    if (edit.offset < copied) {
      continue;  // overlapping source ranges cannot come from distinct attributes; never splice twice
    }
    result.append(html.substr(copied, edit.offset - copied));
    result += edit.text;
    copied = edit.offset + edit.length;
  }
  result.append(html.substr(copied));
  out = std::move(result);
  return true;
}

}  // namespace detail

std::string rewriteHtml(std::string_view html, std::string_view queue_id, const Settings& settings,
                        const std::vector<std::string>& skip_urls, uint32_t& next_index) {
  detail::LinkPolicy policy(queue_id, settings, skip_urls, next_index);
  std::string out;
  if (!detail::rewriteHtmlInto(html, policy, out, nullptr)) {
    out = std::string(html);
  }
  return out;
}

}  // namespace mxgate::links
