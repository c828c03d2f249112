// Fuzz target: the spool record decoder. A record that decodes must re-encode to bytes that
// decode to the same record (the codec is canonical for what it understands).
#include <cstdint>
#include <string>

#include "mxgate/spool/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mxgate::spool::MessageRecord record;
  if (mxgate::spool::decodeMessage(bytes, record) != mxgate::spool::DecodeStatus::Ok) {
    return 0;
  }
  mxgate::spool::MessageRecord again;
  if (mxgate::spool::decodeMessage(mxgate::spool::encodeMessage(record), again) != mxgate::spool::DecodeStatus::Ok ||
      !(again == record)) {
    __builtin_trap();
  }
  return 0;
}
