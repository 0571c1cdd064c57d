// ConnectionList: one I/O thread's list of its open connections, and the clock
// for their timeouts (idle, stalled request, stalled write, maximum age).
// The list is intrusive (two links in each Connection), so it is what
// stop() walks to reach every connection without a table beside it. One
// timer per I/O thread instead of one per connection: every `tick` it asks
// each connection on the thread to check its own times, so an idle
// connection holds three timestamps and two list links, not a timer.
// Fires up to one tick late.
//
// Everything runs on the I/O thread: connections add and remove
// themselves there, forEach() is called there, and the timer's handler
// runs there. A ConnectionList outlives
// its io_context (connections destroyed with the context's handlers still
// remove themselves); its timer does not: stop() it once the I/O threads
// have stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace thrum::server {

class Connection;

class ConnectionList {
 public:
  // Never ticks while `tick` is zero (no timeout is configured).
  ConnectionList(boost::asio::io_context& ctx, std::chrono::milliseconds tick);
  ~ConnectionList();
  ConnectionList(const ConnectionList&) = delete;
  ConnectionList& operator=(const ConnectionList&) = delete;

  void add(Connection* c);
  void remove(Connection* c);
  // Calls `fn` on every connection in the list; `fn` may close connections.
  void forEach(const std::function<void(Connection&)>& fn);
  // Drops the timer; the I/O thread must be stopped.
  void stop() { timer_.reset(); }

  // Milliseconds of the steady clock, the unit connections keep times in.
  static int64_t nowMs();

 private:
  void arm();
  void onTick();

  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::chrono::milliseconds tick_;
  Connection* head_ = nullptr;
  Connection* next_ = nullptr;  // during a sweep: the one to visit next
  bool armed_ = false;
};

}  // namespace thrum::server
