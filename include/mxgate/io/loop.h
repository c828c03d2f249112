// Event loops: one uv_loop_t per thread, with a thread-safe inbox (uv_async_t) through which
// other threads hand work to it. Completions from lanes and the spool writer come back this
// way and find their session by id, never by pointer (the session may be gone).
// A Loop is driven by exactly one thread; post() may be called from any thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mxgate::io {

class Loop {
 public:
  explicit Loop(std::string name);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* uv() { return &loop_; }
  const std::string& name() const { return name_; }

  // Runs fn on the loop thread, after everything posted before it. Safe from any thread,
  // including the loop thread itself (then it runs on the next inbox pass, not inline).
  void post(std::function<void()> fn);

  // Starts a thread that runs the loop until stop() and every handle is closed.
  void start();
  // Runs the loop on the calling thread (used by tests and by the main thread).
  void run();
  // Thread-safe: runs the shutdown hooks on the loop thread, then closes the inbox; the
  // loop returns once the hooks' handles are closed. join() waits for the thread.
  void stop();
  void join();

  // Hooks run on the loop thread at stop(): each owner closes its handles there.
  void addShutdownHook(std::function<void()> hook);

  bool inLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  // Milliseconds of the loop's cached clock (uv_now), for cheap timestamps on the loop.
  uint64_t now() const { return uv_now(const_cast<uv_loop_t*>(&loop_)); }

 private:
  static void onAsync(uv_async_t* handle);
  void drainInbox();

  std::string name_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  std::mutex mutex_;
  std::vector<std::function<void()>> inbox_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  bool stopping_ = false;
  bool inbox_closed_ = false;  // guarded by mutex_
};

}  // namespace mxgate::io
