#include "thrum/io/task_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace thrum::io {

TaskPool::TaskPool(size_t threads, size_t capacity, std::string name, int nice)
    : threads_(threads), capacity_(capacity), name_(std::move(name)), nice_(nice) {}

TaskPool::~TaskPool() {
  stop();
}

void TaskPool::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  for (size_t i = 0; i < threads_; ++i) {
    workers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
      if (nice_ > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_);
      run();
    });
  }
}

bool TaskPool::trySubmit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!running_ || queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

bool TaskPool::stop(std::chrono::steady_clock::time_point deadline) {
  // Destroyed on return, outside the lock: the tasks may own objects whose
  // destructors take locks of their own.
  std::deque<std::function<void()>> unrun;
  {
    std::unique_lock lock(mu_);
    running_ = false;
    unrun.swap(queue_);
  }
  ready_.notify_all();
  {
    std::unique_lock lock(mu_);
    if (!ended_cv_.wait_until(lock, deadline, [this] { return ended_ == workers_.size(); })) {
      return false;
    }
  }
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  return true;
}

size_t TaskPool::busy() const {
  std::lock_guard lock(mu_);
  return busy_;
}

size_t TaskPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool TaskPool::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void TaskPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return !running_ || !queue_.empty(); });
      if (!running_) {
        ++ended_;
        ended_cv_.notify_all();
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    task();
    std::lock_guard lock(mu_);
    --busy_;
  }
}

}  // namespace thrum::io
