// Bounded worker pool (see include/mxgate/io/lane.h).
#include "mxgate/io/lane.h"

#include <pthread.h>

namespace mxgate::io {

Lane::Lane(std::string name, size_t threads, size_t max_queue)
    : name_(std::move(name)), max_queue_(max_queue) {
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      std::string thread_name = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      work();
    });
  }
}

Lane::~Lane() { stop(); }

bool Lane::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || queue_.size() >= max_queue_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(Job{std::move(job), std::chrono::steady_clock::now()});
    depth_.store(queue_.size(), std::memory_order_relaxed);
  }
  cv_.notify_one();
  return true;
}

void Lane::setQueueLimit(size_t max_queue) {
  std::lock_guard<std::mutex> lock(mutex_);
  max_queue_ = max_queue;
}

void Lane::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

void Lane::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      depth_.store(queue_.size(), std::memory_order_relaxed);
    }
    auto waited = std::chrono::steady_clock::now() - job.queued_at;
    wait_us_.fetch_add(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(waited).count()),
        std::memory_order_relaxed);
    job.fn();
    completed_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace mxgate::io
