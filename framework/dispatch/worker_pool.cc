#include "thrum/dispatch/worker_pool.h"

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
    current_.push_back(std::make_unique<Current>());
    threads_.emplace_back([this, i, &current = *current_.back()] {
      // "thrum-worker-3" for the default lane, "thrum-cheap-3" for lane "cheap";
      // the kernel keeps 15 characters.
      std::string lane = options_.name == "default" ? "worker" : options_.name;
      std::string name = "thrum-" + lane + "-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      workerLoop(current);
    });
  }
}

std::vector<std::unique_ptr<Call>> WorkerPool::takeExpiredLocked(Clock::time_point now) {
  std::vector<std::unique_ptr<Call>> expired;
  Clock::time_point earliest = Clock::time_point::max();
  auto keep = queue_.begin();
  for (auto& call : queue_) {
    if (call->queueDeadline() <= now) {
      expired.push_back(std::move(call));
      continue;
    }
    earliest = std::min(earliest, call->queueDeadline());
    *keep++ = std::move(call);
  }
  queue_.erase(keep, queue_.end());
  queue_depth_.add(-static_cast<int64_t>(expired.size()));
  earliest_deadline_ = earliest;
  return expired;
}

bool WorkerPool::trySubmit(std::unique_ptr<Call>& call, bool wake) {
  bool someone_sleeps = false;
  bool queued = false;
  std::vector<std::unique_ptr<Call>> expired;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    if (queue_.size() >= options_.queue_capacity) {
      Clock::time_point now = Clock::now();
      if (earliest_deadline_ <= now) expired = takeExpiredLocked(now);
    }
    if (queue_.size() < options_.queue_capacity) {
      earliest_deadline_ = std::min(earliest_deadline_, call->queueDeadline());
      queue_.push_back(std::move(call));
      queue_depth_.add(1);
      someone_sleeps = sleeping_ > 0;
      queued = true;
    }
  }
  // Outside the lock: completing a call hands its answer to another thread.
  for (auto& e : expired) e->complete(dispatcher_.expire(*e));
  if (wake && someone_sleeps) ready_.notify_one();
  return queued;
}

void WorkerPool::wake(size_t n) {
  size_t sleeping;
  {
    std::lock_guard lock(mu_);
    sleeping = std::min(sleeping_, std::min(n, queue_.size()));
  }
  for (size_t i = 0; i < sleeping; ++i) ready_.notify_one();
}

void WorkerPool::workerLoop(Current& current) {
  for (;;) {
    std::unique_ptr<Call> call;
    {
      std::unique_lock lock(mu_);
      while (!stopping_ && queue_.empty()) {
        ++sleeping_;
        ready_.wait(lock);
        --sleeping_;
      }
      if (queue_.empty()) {  // stopping, and nothing left that may run
        ++ended_;
        exited_.notify_all();
        return;
      }
      call = std::move(queue_.front());
      queue_.pop_front();
      queue_depth_.add(-1);
    }
    {
      std::lock_guard lock(current.mu);
      current.call = call.get();
      current.since = Clock::now();
    }
    busy_.add(1);
    std::string reply = dispatcher_.run(*call);
    busy_.add(-1);
    {
      std::lock_guard lock(current.mu);
      current.call = nullptr;
    }
    call->complete(std::move(reply));
  }
}

bool WorkerPool::stop(Clock::time_point deadline) {
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
  {
    std::unique_lock lock(mu_);
    if (!exited_.wait_until(lock, deadline, [this] { return ended_ == threads_.size(); })) {
      return false;  // a handler is still running; its thread is joined later
    }
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  return true;
}

std::vector<WorkerPool::Running> WorkerPool::running() const {
  std::vector<Running> out;
  Clock::time_point now = Clock::now();
  for (const auto& current : current_) {
    std::lock_guard lock(current->mu);
    if (current->call == nullptr) continue;
    const CallContext& c = current->call->context();
    out.push_back({std::string(c.method()), c.peer(), now - current->since});
  }
  return out;
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace thrum::dispatch
