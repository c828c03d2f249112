// Event loop with a cross-thread inbox (see include/mxgate/io/loop.h).
#include "mxgate/io/loop.h"

#include <cstdlib>

#include "mxgate/base/log.h"

namespace mxgate::io {

Loop::Loop(std::string name) : name_(std::move(name)) {
  if (uv_loop_init(&loop_) != 0 || uv_async_init(&loop_, &async_, &Loop::onAsync) != 0) {
    log::error("-", "loop_init_failed").kv("loop", name_);
    std::abort();
  }
  async_.data = this;
}

Loop::~Loop() {
  join();
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Loop::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (inbox_closed_) {
    return;  // the loop has shut down; nothing can run on it any more
  }
  inbox_.push_back(std::move(fn));
  uv_async_send(&async_);
}

void Loop::onAsync(uv_async_t* handle) { static_cast<Loop*>(handle->data)->drainInbox(); }

void Loop::drainInbox() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(inbox_);
  }
  for (auto& fn : batch) {
    fn();
  }
}

void Loop::start() {
  thread_ = std::thread([this] { run(); });
}

void Loop::run() {
  thread_id_.store(std::this_thread::get_id());
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::addShutdownHook(std::function<void()> hook) { shutdown_hooks_.push_back(std::move(hook)); }

void Loop::stop() {
  post([this] {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    for (auto& hook : shutdown_hooks_) {
      hook();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      inbox_closed_ = true;
    }
    drainInbox();
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  });
}

void Loop::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace mxgate::io
