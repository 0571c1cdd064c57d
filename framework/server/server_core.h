// What a Server's connections share: options, counters, the worker pool, the
// I/O threads and the registry of open connections. Internal to server/.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "thrum/admin/metrics.h"
#include "thrum/dispatch/dispatcher.h"
#include "thrum/dispatch/lanes.h"
#include "thrum/io/io_threads.h"
#include "thrum/io/task_pool.h"
#include "thrum/server/auth_failures.h"
#include "thrum/server/close_reason.h"
#include "thrum/server/connection_limits.h"
#include "thrum/server/connection_list.h"
#include "thrum/server/server.h"
#include "thrum/server/worker_link.h"

namespace thrum::server {

class Connection;

// What one I/O thread owns besides its io_context: its connections (and
// the clock for their timeouts), and its link to the worker pool. A
// connection keeps a reference to its thread's, found once when accepted.
struct IoThread {
  IoThread(boost::asio::io_context& ctx, dispatch::Lanes& lanes, std::chrono::milliseconds tick)
      : connections(ctx, tick), link(ctx, lanes) {}
  ConnectionList connections;
  WorkerLink link;
};

// How many connections a server has open, so stop() can wait until none
// is. The connections themselves are listed by their I/O thread's ConnectionList
// (ServerCore::forEachConnection), so this costs a connection nothing.
// Thread-safe.
class ConnectionCount {
 public:
  // Counts a connection in (close() counts it out whatever this returns);
  // false once the server is draining: the caller closes at once.
  bool add();
  void remove();
  void startDraining() { draining_ = true; }
  // Waits until no connection is open; false on timeout.
  bool waitEmpty(std::chrono::milliseconds timeout);
  size_t size() const { return open_.load(); }

 private:
  std::atomic<size_t> open_{0};
  std::atomic<bool> draining_{false};
  std::mutex mu_;  // only for waitEmpty's condition
  std::condition_variable empty_;
};

class ServerCore {
 public:
  ServerCore(std::shared_ptr<apache::thrift::TProcessor> processor, const ServerOptions& options,
             Metrics& metrics);
  ~ServerCore();

  // Counter for a close reason, e.g. "connections.closed.too_large".
  Counter& closedCounter(CloseReason reason);

  // Past max_buffered_bytes, a connection's share of it: the budget over
  // the open connections, at least 64 KiB; SIZE_MAX while within the budget.
  size_t bufferShare() const;

  const ServerOptions options;
  Metrics& metrics;
  dispatch::Dispatcher dispatcher;
  dispatch::Lanes lanes;
  ConnectionCount registry;
  ConnectionLimits limits;

  Counter& accepted;
  Gauge& open;
  Counter& calls_received;
  Counter& rejected_queue_full;
  Counter& rejected_memory;
  // Bytes of requests in flight and replies not yet written, all
  // connections together (ServerOptions::max_buffered_bytes).
  Gauge& buffered_bytes;
  Counter& oneway_dropped;
  Counter& replies_written;
  Counter& replies_dropped;
  Counter& calls_timed_out;  // answered call_timeout
  Counter& replies_late;     // results of those that came after all
  Gauge& running_late;       // those still running
  Counter& tls_handshakes;   // completed, resumed or not
  Counter& tls_resumed;      // of those, resumed from a session cache or ticket
  Counter& sasl_authenticated;
  Counter& sasl_steps;       // negotiation steps handed to the auth pool
  Counter& sasl_throttled;   // negotiations delayed because their address kept failing
  Gauge& failing_addresses;  // addresses AuthFailures remembers

  // Blocking SASL steps run here, never on an I/O thread.
  io::TaskPool auth_pool;
  AuthFailures auth_failures;

  std::atomic<uint64_t> next_connection_id{1};

  // Runs `fn` on every open connection, each on its own I/O thread (posted
  // there; returns before they have run).
  void forEachConnection(std::function<void(Connection&)> fn);

  // The I/O thread that runs `executor` (one of io's): a scan of a few.
  IoThread& threadFor(const boost::asio::any_io_executor& executor);

  // Before io, so that they outlive it: connections destroyed with a
  // context's queued handlers still remove themselves from their thread's
  // list. ~ServerCore says the whole order.
  std::vector<std::unique_ptr<IoThread>> threads;  // one per I/O thread
  io::IoThreads io;
};

}  // namespace thrum::server
