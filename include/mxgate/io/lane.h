// Lanes: named, bounded worker pools for blocking work (file delivery, spool reads; later
// SPF/DKIM/ClamAV). A full lane refuses new work instead of queueing without bound, so the
// caller turns overload into an explicit answer (a deferral or a 4xx). Never uv_queue_work:
// libuv's pool is global and shared with file I/O.
// submit() is thread-safe; jobs run on the lane's own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mxgate::io {

class Lane {
 public:
  Lane(std::string name, size_t threads, size_t max_queue);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Queues job; false when the queue is full or the lane is stopping.
  bool submit(std::function<void()> job);
  // Stops accepting work, runs what is queued, joins the threads.
  void stop();

  const std::string& name() const { return name_; }
  size_t threads() const { return threads_.size(); }
  // A new bound on waiting jobs (a reload); jobs already queued stay.
  void setQueueLimit(size_t max_queue);
  size_t depth() const { return depth_.load(std::memory_order_relaxed); }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Total microseconds jobs spent waiting in the queue (metrics: divide by completed()).
  uint64_t waitMicros() const { return wait_us_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point queued_at;
  };
  void work();

  std::string name_;
  size_t max_queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::atomic<size_t> depth_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> wait_us_{0};
};

}  // namespace mxgate::io
