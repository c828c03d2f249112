// libFuzzer target for the MIME parser and the inbound payload: the input is parsed as a
// message with small limits (mime::parse, GMime 3), turned into the webhook JSON with a fixed
// record and the default ticket pattern (payload::buildInbound), and the JSON must parse back
// (nlohmann) with the structure and part counts it was built from; any failure traps. Also
// checks the limits: parts walked never exceed max_parts, bodies never exceed max_body_bytes.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"
#include "mxgate/mime/message.h"
#include "mxgate/payload/inbound.h"

namespace {

using namespace mxgate;

const spool::MessageRecord& fixedRecord() {
  static const spool::MessageRecord record = [] {
    spool::MessageRecord made;
    made.id = mail::QueueId::fromBytes(std::string_view("\x00\x06\x48\x6e\x9d\x0a\x51\x00\x00\x01\xbe\xef", 12));
    made.received_at_us = 1768472551880123;
    made.mail_from = "sender@example.com";
    made.client_address = "203.0.113.7";
    made.helo = "mail.example.com";
    made.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
    made.verdicts.spf = "pass";
    made.verdicts.spf_domain = "example.com";
    made.verdicts.dkim = {{"pass", "example.com", "s1", "rsa-sha256"}};
    return made;
  }();
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  mime::Limits limits;
  limits.max_parts = 64;
  limits.max_depth = 8;
  limits.max_header_fields = 64;
  limits.max_body_bytes = 4096;
  limits.max_kept_attachment_bytes = 4096;
  const mime::Message message = mime::parse(input, limits);
  if (message.part_count > limits.max_parts || message.text.size() > limits.max_body_bytes ||
      message.html.size() > limits.max_body_bytes || message.headers.size() > limits.max_header_fields) {
    __builtin_trap();
  }

  static const payload::TicketPattern pattern{config::ThreadPolicy{}.ticket_pattern};
  payload::Input in;
  in.record = &fixedRecord();
  in.tenant = "acme";
  in.rcpt_to = {"support+TICKET-202501-0001@acme.example", "sales+x@acme.example"};
  in.message = &message;
  in.ticket_pattern = &pattern;
  in.links_mode = "off";
  in.inline_attachments_max = 2048;
  in.timestamp_us = 1768472553123456;
  const std::string json = payload::buildInbound(in);
  const nlohmann::json document = nlohmann::json::parse(json, nullptr, false);
  if (document.is_discarded() || !document.contains("data") || document["data"]["structure"] != message.structure ||
      document["data"]["attachments"].size() != message.attachments.size()) {
    __builtin_trap();
  }
  return 0;
}
