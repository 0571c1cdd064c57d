// Gate: lets a test hold handlers inside a call until it says so, and know
// how many are being held. No sleeps: tests wait on conditions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace thrum::testing {

class Gate {
 public:
  // Blocks the calling (worker) thread until release().
  void wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    --waiting_;
  }
  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `n` threads are held; false after `timeout`.
  bool waitForWaiting(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

}  // namespace thrum::testing
