// TaskPool: a few threads running blocking work handed over by I/O threads
// (the server's auth pool runs Cyrus SASL steps on one), with a bounded
// queue. trySubmit() never blocks: a full queue is the caller's to answer.
//
//   io::TaskPool auth(2, 1024, "thrum-auth");
//   auth.start();
//   if (!auth.trySubmit([conn] { conn->step(); })) refuse();
//
// Thread-safe. stop() runs nothing more: queued tasks are destroyed unrun
// (whatever they own is released), running ones finish, threads join; a
// task still running at stop()'s deadline keeps its thread, which the
// destructor joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace thrum::io {

class TaskPool {
 public:
  // With `nice` > 0 the pool's threads run at that nice value (Linux: per
  // thread), for work that should yield the CPU to everything else.
  TaskPool(size_t threads, size_t capacity, std::string name, int nice = 0);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void start();
  bool trySubmit(std::function<void()> task);
  // True once every thread has ended; false if a task is still running at
  // `deadline`. Idempotent.
  bool stop(std::chrono::steady_clock::time_point deadline =
                std::chrono::steady_clock::time_point::max());

  size_t queued() const;
  bool running() const;
  // Tasks running now.
  size_t busy() const;

 private:
  void run();

  const size_t threads_;
  const size_t capacity_;
  const std::string name_;
  const int nice_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable ended_cv_;
  std::deque<std::function<void()>> queue_;
  bool running_ = false;
  size_t busy_ = 0;
  size_t ended_ = 0;  // threads that returned
  std::vector<std::thread> workers_;
};

}  // namespace thrum::io
