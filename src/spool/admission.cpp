// Admission control with live counters and hysteresis (see include/mxgate/spool/admission.h).
#include "mxgate/spool/admission.h"

#include <algorithm>

#include "mxgate/base/log.h"

namespace mxgate::spool {

void Admission::messageQueued(uint64_t bytes) {
  queued_.fetch_add(1, std::memory_order_relaxed);
  queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void Admission::messageRemoved(uint64_t bytes) {
  queued_.fetch_sub(1, std::memory_order_relaxed);
  queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

uint64_t Admission::estimatedFree() const {
  uint64_t free = free_at_refresh_.load(std::memory_order_relaxed);
  uint64_t used = 2 * written_.load(std::memory_order_relaxed);
  return free > used ? free - used : 0;
}

Admission::Verdict Admission::check() {
  if (!store_writable_.load(std::memory_order_relaxed)) {
    return Verdict::WriteError;
  }
  if (!pressure_.load(std::memory_order_relaxed)) {
    const uint64_t queued = queued_.load(std::memory_order_relaxed);
    const uint64_t bytes = queued_bytes_.load(std::memory_order_relaxed);
    const uint64_t free = estimatedFree();
    if ((queued >= settings_.max_queued_messages || bytes >= settings_.max_queued_bytes ||
         free < settings_.min_free_bytes) &&
        !pressure_.exchange(true)) {
      log::warn("-", "backpressure_on").kv("queued", queued).kv("queued_bytes", bytes).kv("free_disk", free);
    }
  }
  if (pressure_.load(std::memory_order_relaxed)) {
    return Verdict::NoStorage;
  }
  if (inflight_.load(std::memory_order_relaxed) >= settings_.max_inflight_bytes) {
    return Verdict::NoMemory;
  }
  return Verdict::Accept;
}

bool Admission::tryAddInflight(uint64_t bytes) {
  uint64_t current = inflight_.load(std::memory_order_relaxed);
  do {
    if (current + bytes > settings_.max_inflight_bytes) {
      return false;
    }
  } while (!inflight_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return true;
}

bool CountedBuffer::reserve(uint64_t bytes) {
  if (bytes <= counted_) {
    return true;
  }
  if (!admission_.tryAddInflight(bytes - counted_)) {
    return false;
  }
  counted_ = bytes;
  // A fresh string gets exactly the capacity asked for; reserve() on this one would at least
  // double it, past what was counted.
  std::string grown;
  grown.reserve(bytes);
  grown.append(text_);
  text_.swap(grown);
  if (text_.capacity() > counted_) {  // a short string's minimum, counted as well
    admission_.addInflight(text_.capacity() - counted_);
    counted_ = text_.capacity();
  }
  return true;
}

bool CountedBuffer::append(std::string_view bytes) {
  const uint64_t needed = text_.size() + bytes.size();
  // Geometric growth keeps appending linear; when doubling does not fit, the exact size may.
  if (needed > counted_ && !reserve(std::max<uint64_t>(needed, 2 * counted_)) && !reserve(needed)) {
    return false;
  }
  text_.append(bytes);
  return true;
}

void Admission::refresh(uint64_t free_disk_bytes, bool store_writable) {
  store_writable_.store(store_writable, std::memory_order_relaxed);
  free_at_refresh_.store(free_disk_bytes, std::memory_order_relaxed);
  written_.store(0, std::memory_order_relaxed);
  if (!pressure_.load(std::memory_order_relaxed)) {
    clear_refreshes_ = 0;
    return;
  }
  const uint64_t percent = settings_.resume_percent;
  const uint64_t queued = queued_.load(std::memory_order_relaxed);
  const uint64_t bytes = queued_bytes_.load(std::memory_order_relaxed);
  // Below resume_percent of each limit, and with that much head room of free disk, again.
  bool clear = queued * 100 < settings_.max_queued_messages * percent &&
               bytes * 100 < settings_.max_queued_bytes * percent &&
               free_disk_bytes / 100 * percent >= settings_.min_free_bytes;
  clear_refreshes_ = clear ? clear_refreshes_ + 1 : 0;
  if (clear_refreshes_ >= kClearRefreshesToResume && pressure_.exchange(false)) {
    clear_refreshes_ = 0;
    log::warn("-", "backpressure_off").kv("queued", queued).kv("queued_bytes", bytes).kv("free_disk", free_disk_bytes);
  }
}

}  // namespace mxgate::spool
