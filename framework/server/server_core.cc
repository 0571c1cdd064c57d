#include "thrum/server/server_core.h"

#include <algorithm>
#include <string>

#include <boost/asio/post.hpp>

namespace thrum::server {

bool ConnectionCount::add() {
  open_.fetch_add(1);
  return !draining_.load();
}

void ConnectionCount::remove() {
  if (open_.fetch_sub(1) != 1) return;
  // Under the waiters' mutex, so one between its check and its wait
  // cannot miss this.
  std::lock_guard lock(mu_);
  empty_.notify_all();
}

bool ConnectionCount::waitEmpty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return empty_.wait_for(lock, timeout, [this] { return open_.load() == 0; });
}

ServerCore::ServerCore(std::shared_ptr<apache::thrift::TProcessor> processor,
                       const ServerOptions& opts, Metrics& m)
    : options(opts),
      metrics(m),
      dispatcher(std::move(processor), m, opts.retry_after),
      lanes(dispatcher, m, {.workers = opts.workers, .queue = opts.queue}, opts.lanes, opts.routes,
            {.queue = opts.queue_timeout, .call = opts.call_timeout}),
      limits(opts.max_connections, opts.max_connections_per_address,
             opts.max_connections_per_principal),
      accepted(m.counter("connections.accepted")),
      open(m.gauge("connections.open")),
      calls_received(m.counter("calls.received")),
      rejected_queue_full(m.counter("calls.rejected.queue_full")),
      rejected_memory(m.counter("calls.rejected.memory")),
      buffered_bytes(m.gauge("memory.buffered_bytes")),
      oneway_dropped(m.counter("calls.oneway_dropped")),
      replies_written(m.counter("replies.written")),
      replies_dropped(m.counter("replies.dropped")),
      calls_timed_out(m.counter("calls.timed_out")),
      replies_late(m.counter("replies.late")),
      running_late(m.gauge("calls.running_late")),
      tls_handshakes(m.counter("tls.handshakes")),
      tls_resumed(m.counter("tls.resumed")),
      sasl_authenticated(m.counter("sasl.authenticated")),
      sasl_steps(m.counter("sasl.steps")),
      sasl_throttled(m.counter("sasl.throttled")),
      failing_addresses(m.gauge("sasl.failing_addresses")),
      auth_pool(opts.auth_threads, opts.auth_queue, "thrum-auth"),
      io(opts.io_threads) {
  // The sweep ticks at a quarter of the shortest timeout, 10 ms to 1 s
  // (calls past their call timeout are answered by it too).
  std::chrono::milliseconds tick{0};
  for (auto t : {opts.idle_timeout, opts.request_timeout, opts.write_timeout, opts.max_age,
                 lanes.shortestCallTimeout()}) {
    if (t.count() > 0 && (tick.count() == 0 || t / 4 < tick)) tick = t / 4;
  }
  if (tick.count() > 0) {
    tick = std::clamp(tick, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  }
  for (size_t i = 0; i < io.size(); ++i) {
    threads.push_back(std::make_unique<IoThread>(io.context(i), lanes, tick));
  }
}

// The teardown order, in one place (Server::stop() has drained by now, or
// never started):
//   1. the I/O threads stop: no handler runs any more;
//   2. each thread's sweep timer goes, and the replies still queued for it
//      release their connections, while the io_contexts their sockets
//      belong to still exist;
//   3. the io_contexts go (io, a member), destroying the handlers still
//      queued on them and the connections those held, which remove
//      themselves from their thread's list;
//   4. the threads' lists go (threads, a member before io).
ServerCore::~ServerCore() {
  io.stop();
  for (auto& t : threads) {
    t->connections.stop();
    t->link.dropQueued();
  }
}

namespace {
size_t indexOf(io::IoThreads& io, const boost::asio::any_io_executor& executor) {
  auto& context = boost::asio::query(executor, boost::asio::execution::context);
  for (size_t i = 0; i < io.size(); ++i) {
    if (&static_cast<boost::asio::execution_context&>(io.context(i)) == &context) return i;
  }
  return 0;  // unreachable: every socket is bound to one of ours
}
}  // namespace

IoThread& ServerCore::threadFor(const boost::asio::any_io_executor& executor) {
  return *threads[indexOf(io, executor)];
}

void ServerCore::forEachConnection(std::function<void(Connection&)> fn) {
  for (size_t i = 0; i < io.size(); ++i) {
    boost::asio::post(io.context(i), [list = &threads[i]->connections, fn] { list->forEach(fn); });
  }
}

size_t ServerCore::bufferShare() const {
  size_t limit = options.max_buffered_bytes;
  if (limit == 0 || buffered_bytes.value() < static_cast<int64_t>(limit)) return SIZE_MAX;
  return std::max<size_t>(limit / std::max<size_t>(registry.size(), 1), 64 * 1024);
}

Counter& ServerCore::closedCounter(CloseReason reason) {
  std::string name = "connections.closed.";
  name += reason.name();
  return metrics.counter(name);
}

}  // namespace thrum::server
