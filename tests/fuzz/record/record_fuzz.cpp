// Fuzz target: the spool record decoders (message, event, endpoint, credential, suppression,
// idempotency and tenant usage records). A record that decodes must re-encode to bytes that decode to the same
// record (the codec is canonical for what it understands).
#include <cstdint>
#include <string>

#include "mxgate/spool/record.h"

namespace {

template <class Record>
void roundTrip(std::string_view bytes, mxgate::spool::DecodeStatus (*decode)(std::string_view, Record&),
               std::string (*encode)(const Record&)) {
  Record record;
  if (decode(bytes, record) != mxgate::spool::DecodeStatus::Ok) {
    return;
  }
  Record again;
  if (decode(encode(record), again) != mxgate::spool::DecodeStatus::Ok || !(again == record)) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  roundTrip<mxgate::spool::MessageRecord>(bytes, &mxgate::spool::decodeMessage, &mxgate::spool::encodeMessage);
  roundTrip<mxgate::spool::EventRecord>(bytes, &mxgate::spool::decodeEvent, &mxgate::spool::encodeEvent);
  roundTrip<mxgate::spool::EndpointRecord>(bytes, &mxgate::spool::decodeEndpoint, &mxgate::spool::encodeEndpoint);
  roundTrip<mxgate::spool::CredentialRecord>(bytes, &mxgate::spool::decodeCredential,
                                             &mxgate::spool::encodeCredential);
  roundTrip<mxgate::spool::SuppressionRecord>(bytes, &mxgate::spool::decodeSuppression,
                                              &mxgate::spool::encodeSuppression);
  roundTrip<mxgate::spool::IdempotencyRecord>(bytes, &mxgate::spool::decodeIdempotency,
                                              &mxgate::spool::encodeIdempotency);
  roundTrip<mxgate::spool::TenantUsageRecord>(bytes, &mxgate::spool::decodeTenantUsage,
                                              &mxgate::spool::encodeTenantUsage);
  return 0;
}
