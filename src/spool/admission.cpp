// Admission control with hysteresis (see include/mxgate/spool/admission.h).
#include "mxgate/spool/admission.h"

#include "mxgate/base/log.h"

namespace mxgate::spool {

Admission::Verdict Admission::check() const {
  if (!store_writable_.load(std::memory_order_relaxed)) {
    return Verdict::WriteError;
  }
  if (storage_pressure_.load(std::memory_order_relaxed)) {
    return Verdict::NoStorage;
  }
  if (inflight_.load(std::memory_order_relaxed) >= settings_.max_inflight_bytes) {
    return Verdict::NoMemory;
  }
  return Verdict::Accept;
}

void Admission::update(uint64_t queued_messages, uint64_t queued_bytes, uint64_t free_disk_bytes,
                       bool store_writable) {
  store_writable_.store(store_writable, std::memory_order_relaxed);
  bool pressed = storage_pressure_.load(std::memory_order_relaxed);
  const uint64_t percent = settings_.resume_percent;
  bool over = queued_messages >= settings_.max_queued_messages ||
              queued_bytes >= settings_.max_queued_bytes || free_disk_bytes < settings_.min_free_bytes;
  // Below resume_percent of each limit (and with that much head room of free disk) again.
  bool clear = queued_messages * 100 < settings_.max_queued_messages * percent &&
               queued_bytes * 100 < settings_.max_queued_bytes * percent &&
               free_disk_bytes / 100 * percent >= settings_.min_free_bytes;
  if (!pressed && over) {
    storage_pressure_.store(true, std::memory_order_relaxed);
    log::warn("-", "backpressure_on")
        .kv("queued", queued_messages)
        .kv("queued_bytes", queued_bytes)
        .kv("free_disk", free_disk_bytes);
  } else if (pressed && clear) {
    storage_pressure_.store(false, std::memory_order_relaxed);
    log::warn("-", "backpressure_off")
        .kv("queued", queued_messages)
        .kv("queued_bytes", queued_bytes)
        .kv("free_disk", free_disk_bytes);
  }
}

}  // namespace mxgate::spool
