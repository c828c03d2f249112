// The part-tree walk of mime::parse: the text and HTML bodies (RFC 2046 §5.1.3 mixed,
// §5.1.4 alternative), the attachments (RFC 2183), DSN detection (RFC 3462 multipart/report,
// RFC 3464 message/delivery-status) and the structure string, within Limits.
// Pure; any thread once mime::initialize() ran.
#pragma once

#include <gmime/gmime.h>

#include "mxgate/mime/message.h"

namespace mxgate::mime::detail {

// Walks the tree under root (the message's top-level MIME part) without recursion and fills
// out.text, html, attachments, is_bounce, structure, part_count, skipped_parts and truncated.
// input_size (the parsed message's size) bounds the decoded bytes re-parsed for encoded
// message/rfc822 parts.
void walkParts(GMimeObject* root, const Limits& limits, size_t input_size, Message& out);

}  // namespace mxgate::mime::detail
