// WorkerPool: the sync layer. A fixed set of threads takes calls from one
// bounded FIFO queue and runs them through a Dispatcher.
//
//   WorkerPool pool(dispatcher, metrics, {.threads = 4, .queue_capacity = 1024});
//   pool.start();
//   if (!pool.trySubmit(call)) answerOverloaded(*call);  // `call` is still ours
//   ...
//   pool.stop();
//
// trySubmit() never blocks: admission control happens before the queue, on
// the I/O thread. A worker thread never dies of a call: the Dispatcher turns
// every escape into an error reply.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "framework/admin/metrics.h"
#include "framework/dispatch/call.h"
#include "framework/dispatch/dispatcher.h"

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
  // caller, when the queue is full or the pool stopped. Thread-safe.
  // With wake=false no sleeping worker is woken: the caller batches several
  // submissions and then calls wake() once.
  bool trySubmit(std::unique_ptr<Call>& call, bool wake = true);
  // Wakes up to `n` sleeping workers.
  void wake(size_t n);

  // Abandons every queued call, lets running calls finish and joins the
  // threads. Idempotent.
  void stop();

  size_t queued() const;
  size_t capacity() const { return options_.queue_capacity; }
  const std::string& name() const { return options_.name; }

 private:
  void workerLoop();

  Dispatcher& dispatcher_;
  WorkerPoolOptions options_;
  Gauge& queue_depth_;
  Gauge& busy_;
  Counter& abandoned_;

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Call>> queue_;
  bool stopping_ = false;
  size_t sleeping_ = 0;  // workers waiting on ready_
  std::vector<std::thread> threads_;
};

}  // namespace thrum::dispatch
