// WorkerLink: one I/O thread's link to the worker pool, batched both ways.
//
// Out: a connection queues each call without waking a worker and calls
// submitted(); the first submission of a round posts one flush behind the
// handlers already ready on this I/O thread, and that flush wakes as many
// sleeping workers as calls arrived. One wake-up per worker per round instead
// of one per call.
//
// Back: workers push finished calls; the first push into an empty queue
// posts one drain to the I/O thread, and that drain delivers everything
// queued by then. Many replies per wake-up of the I/O thread.
//
// submitted() runs on the I/O thread; push() on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "thrum/dispatch/lanes.h"

namespace thrum::server {

class Connection;

class WorkerLink {
 public:
  WorkerLink(boost::asio::io_context& ctx, dispatch::Lanes& lanes)
      : ctx_(ctx), lanes_(lanes), unwoken_(lanes.size(), 0) {}

  boost::asio::io_context& context() { return ctx_; }

  // A call was queued in `lane` with trySubmit(call, /*wake=*/false).
  // I/O thread only.
  void submitted(size_t lane);

  // Delivers connection->onCallDone(slot, reply, request_bytes) on the I/O thread.
  void push(std::shared_ptr<Connection> connection, uint64_t slot, std::string reply,
            size_t request_bytes);

  // Drops what is queued, releasing its connections: at teardown, once the
  // I/O thread has stopped and before its io_context goes (~ServerCore).
  void dropQueued();

 private:
  struct Item {
    std::shared_ptr<Connection> connection;
    uint64_t slot;
    std::string reply;
    size_t request_bytes;
  };
  void flush();
  void drain();

  boost::asio::io_context& ctx_;
  dispatch::Lanes& lanes_;

  std::vector<size_t> unwoken_;  // per lane; I/O thread only
  bool flush_posted_ = false;    // I/O thread only

  std::mutex mu_;
  std::vector<Item> pending_;   // guarded by mu_
  std::vector<Item> draining_;  // I/O thread only
};

}  // namespace thrum::server
