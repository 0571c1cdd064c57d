#include "framework/dispatch/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <string>

namespace thrum::dispatch {

WorkerPool::WorkerPool(Dispatcher& dispatcher, Metrics& metrics, WorkerPoolOptions options)
    : dispatcher_(dispatcher),
      options_(options),
      queue_depth_(metrics.gauge("lane." + options_.name + ".queued")),
      busy_(metrics.gauge("lane." + options_.name + ".busy")),
      abandoned_(metrics.counter("calls.abandoned")) {
  if (options_.threads == 0) options_.threads = 1;
}

WorkerPool::~WorkerPool() {
  stop();
}

void WorkerPool::start() {
  for (size_t i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this, i] {
      // "thrum-worker-3" for the default lane, "thrum-cheap-3" for lane "cheap";
      // the kernel keeps 15 characters.
      std::string lane = options_.name == "default" ? "worker" : options_.name;
      std::string name = "thrum-" + lane + "-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      workerLoop();
    });
  }
}

bool WorkerPool::trySubmit(std::unique_ptr<Call>& call, bool wake) {
  bool someone_sleeps;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) return false;
    queue_.push_back(std::move(call));
    queue_depth_.add(1);
    someone_sleeps = sleeping_ > 0;
  }
  if (wake && someone_sleeps) ready_.notify_one();
  return true;
}

void WorkerPool::wake(size_t n) {
  size_t sleeping;
  {
    std::lock_guard lock(mu_);
    sleeping = std::min(sleeping_, std::min(n, queue_.size()));
  }
  for (size_t i = 0; i < sleeping; ++i) ready_.notify_one();
}

void WorkerPool::workerLoop() {
  for (;;) {
    std::unique_ptr<Call> call;
    {
      std::unique_lock lock(mu_);
      while (!stopping_ && queue_.empty()) {
        ++sleeping_;
        ready_.wait(lock);
        --sleeping_;
      }
      if (queue_.empty()) return;  // stopping, and nothing left that may run
      call = std::move(queue_.front());
      queue_.pop_front();
      queue_depth_.add(-1);
    }
    busy_.add(1);
    std::string reply = dispatcher_.run(*call);
    busy_.add(-1);
    call->complete(std::move(reply));
  }
}

void WorkerPool::stop() {
  std::deque<std::unique_ptr<Call>> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    queue_depth_.add(-static_cast<int64_t>(dropped.size()));
  }
  ready_.notify_all();
  // Abandon outside the lock: abandon() may post to other threads.
  for (auto& call : dropped) {
    abandoned_.inc();
    call->abandon();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace thrum::dispatch
