// IoThreads: the async layer's threads. Each thread runs its own io_context
// (Boost.Asio's "io_context per thread" model), so a connection bound to one
// context is only ever touched by that thread and needs no strand or lock.
//
//   IoThreads io(2);
//   io.start();
//   auto& ctx = io.next();   // round-robin, for spreading new connections
//   ...
//   io.stop();               // after everything bound to the contexts is closed
//
// start(), stop() and the destructor are for the owning thread; next() and
// context() are thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace thrum::io {

class IoThreads {
 public:
  explicit IoThreads(size_t threads);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  void start();
  // Returns once every context has run the handlers that were queued on it
  // when sync() was called. Call from a thread that is not an I/O thread.
  void sync();

  // Stops every context and joins its thread. Handlers still queued are
  // destroyed with their context, so close what is bound to it first.
  void stop();

  size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(size_t i) { return *contexts_[i]; }
  boost::asio::io_context& next();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace thrum::io
