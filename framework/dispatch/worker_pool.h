// WorkerPool: the sync layer. A fixed set of threads takes calls from one
// bounded FIFO queue and runs them through a Dispatcher.
//
//   WorkerPool pool(dispatcher, metrics, {.threads = 4, .queue_capacity = 1024});
//   pool.start();
//   if (!pool.trySubmit(call)) answerOverloaded(*call);  // `call` is still ours
//   ...
//   if (!pool.stop(deadline)) log(pool.running());  // a handler did not return in time
//
// trySubmit() never blocks: admission control happens before the queue, on
// the I/O thread. A worker thread never dies of a call: the Dispatcher turns
// every escape into an error reply. A call past its queue deadline never
// runs: a worker answers it queue_timeout instead, and when the queue is
// full such calls are answered at once to make room, so calls nobody waits
// for any more do not turn fresh ones away.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "thrum/admin/metrics.h"
#include "thrum/dispatch/call.h"
#include "thrum/dispatch/dispatcher.h"

namespace thrum::dispatch {

struct WorkerPoolOptions {
  std::string name = "default";  // gauges lane.NAME.queued and lane.NAME.busy
  size_t threads = 4;
  size_t queue_capacity = 1024;  // calls waiting for a worker, not counting running ones
};

class WorkerPool {
 public:
  WorkerPool(Dispatcher& dispatcher, Metrics& metrics, WorkerPoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();

  // Queues `call` and returns true, or returns false, leaving `call` with the
  // caller, when the queue is full (after answering the queued calls past
  // their queue deadline, on this thread) or the pool stopped. Thread-safe.
  // With wake=false no sleeping worker is woken: the caller batches several
  // submissions and then calls wake() once.
  bool trySubmit(std::unique_ptr<Call>& call, bool wake = true);
  // Wakes up to `n` sleeping workers.
  void wake(size_t n);

  using Clock = std::chrono::steady_clock;
  // Abandons every queued call and waits until `deadline` for the running
  // ones to finish. True once every thread has ended and been joined; false
  // when a handler is still running at the deadline: it cannot be stopped,
  // so its thread goes on, and the destructor waits for it. Idempotent.
  bool stop(Clock::time_point deadline = Clock::time_point::max());

  // A call a worker is running: for the log of a stop that did not finish.
  struct Running {
    std::string method;
    std::string peer;
    Clock::duration running_for;
  };
  std::vector<Running> running() const;

  size_t queued() const;
  size_t capacity() const { return options_.queue_capacity; }
  const std::string& name() const { return options_.name; }

 private:
  // What one worker runs; its own lock, so publishing a call costs the
  // worker no contention with the queue.
  struct Current {
    mutable std::mutex mu;
    const Call* call = nullptr;
    Clock::time_point since;
  };

  void workerLoop(Current& current);
  // Moves the queued calls past their queue deadline out of the queue
  // (mu_ held); sets earliest_deadline_ to the earliest left.
  std::vector<std::unique_ptr<Call>> takeExpiredLocked(Clock::time_point now);

  Dispatcher& dispatcher_;
  WorkerPoolOptions options_;
  Gauge& queue_depth_;
  Gauge& busy_;
  Counter& abandoned_;

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable exited_;  // a worker thread returned
  std::deque<std::unique_ptr<Call>> queue_;
  // No queued call's queue deadline is before this (it may be later).
  Clock::time_point earliest_deadline_ = Clock::time_point::max();
  bool stopping_ = false;
  size_t sleeping_ = 0;  // workers waiting on ready_
  size_t ended_ = 0;     // worker threads that returned
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Current>> current_;  // one per thread
};

}  // namespace thrum::dispatch
