// TaskPool: a few threads running blocking work handed over by I/O threads
// (the server's auth pool runs Cyrus SASL steps on one), with a bounded
// queue. trySubmit() never blocks: a full queue is the caller's to answer.
//
//   io::TaskPool auth(2, 1024, "thrum-auth");
//   auth.start();
//   if (!auth.trySubmit([conn] { conn->step(); })) refuse();
//
// Thread-safe. stop() runs nothing more: queued tasks are destroyed unrun
// (whatever they own is released), running ones finish, threads join.
#pragma once

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
  void stop();

  size_t queued() const;
  bool running() const;

 private:
  void run();

  const size_t threads_;
  const size_t capacity_;
  const std::string name_;
  const int nice_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool running_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace thrum::io
