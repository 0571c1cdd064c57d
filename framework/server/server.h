// Server: a Thrift service on thrum's half-sync/half-async core.
//
// A service binary's main() uses thrum::serve() (service.h), which does
// all of the start-up below; this object-style API is for tests and for
// programs that embed a server:
//
//   auto handler = std::make_shared<BenchHandler>();
//   thrum::Server server(std::make_shared<thrum::bench::BenchProcessor>(handler),
//                        {.io_threads = 2, .workers = 4});
//   thrum::Status listening = server.listen("tcp:port=0:interface=127.0.0.1");
//   if (!listening) die(listening.message());
//   server.start();
//   std::cout << server.port() << "\n";
//   thrum::runUntilSignal(server);   // SIGINT/SIGTERM -> stop()
//   (with thrum::holdShutdownSignals() first thing in main)
//
// Several services share one server through TMultiplexedProcessor
// (thrum::multiplex(), service.h).
//
// Threads: listen(), start() and stop() are for the owning thread. The
// processor runs on worker threads, several calls at once.
//
// Shutdown order (stop()), all within drain_timeout:
//   1. close the listeners: no new connections;
//   2. every connection stops reading and closes once its in-flight calls
//      are answered and written (the drain), or when drain_timeout passes;
//   3. the worker pools abandon what is still queued, and the auth pool
//      what it has not begun; calls and SASL steps already running may
//      finish until drain_timeout is up;
//   4. the I/O threads deliver what the workers handed back, stop and join.
// A handler (or SASL step) still running then cannot be stopped: stop()
// logs each such call and fails, leaving its thread, which the
// destructor waits for. runUntilSignal() then ends the process itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>
#include <thrift/TProcessor.h>

#include "thrum/admin/metrics.h"
#include "thrum/dispatch/dispatcher.h"
#include "thrum/dispatch/lanes.h"
#include "thrum/endpoint/listener.h"
#include "thrum/status.h"
#include "thrum/transport/tls_context.h"

namespace thrum {

// The names a service author uses, in namespace thrum.
using dispatch::LaneOptions;
using dispatch::MethodRoute;
using endpoint::ListenEndpoint;

struct ServerOptions {
  size_t io_threads = 2;
  // The "default" lane: its worker threads, and the calls that may wait for
  // one; beyond that callers are answered "thrum overloaded: queue_full"
  // (transport/overload.h).
  size_t workers = 4;
  size_t queue = 1024;
  // More lanes, and which methods go where with what queue timeout
  // (dispatch/lanes.h).
  std::vector<LaneOptions> lanes{};
  std::vector<MethodRoute> routes{};
  // A call still waiting for a worker this long after it arrived is answered
  // "queue_timeout" without running; routes may set their own. 0: no limit.
  std::chrono::milliseconds queue_timeout{0};
  // A call not answered this long after it arrived (queued and running) is
  // answered "call_timeout" (transport/overload.h) so its connection moves
  // on; the handler cannot be stopped, its worker stays busy until it
  // returns, and its late result is dropped (counted calls.timed_out,
  // replies.late). Routes may set their own. 0: no limit.
  std::chrono::milliseconds call_timeout{0};
  // The hint sent with every overload answer.
  std::chrono::milliseconds retry_after{100};
  uint32_t max_message_bytes = 16 * 1024 * 1024;
  // Calls one connection may have queued or running before the server stops
  // reading from it (back-pressure on a pipelining client, not an error).
  size_t max_in_flight_per_connection = 64;
  // Reply bytes one connection may have waiting to be sent before the
  // server stops reading its requests, so a client that does not read
  // cannot make the server buffer without bound (back-pressure too; the
  // write timeout ends a client that never reads).
  size_t max_reply_bytes_per_connection = 16 * 1024 * 1024;
  // Bytes of requests and replies the whole server holds at once: requests
  // read and not yet answered, replies not yet written. Past it, a
  // connection holding more than its share (the budget over the open
  // connections, at least 64 KiB) stops being read until its bytes drain,
  // and a call that would take its connection past its share is answered
  // "thrum overloaded: memory"; lighter connections go on. 0: no limit.
  // (Each connection's unfinished request is bounded by max_message_bytes.)
  size_t max_buffered_bytes = size_t{1} << 30;
  // Connections held at once: overall, per peer address (per user on a
  // unix socket), per SASL principal once authenticated. 0: no limit. A
  // connection over a limit is answered "thrum overloaded:
  // max_connections..." (its first call, or its SASL negotiation) and closed.
  size_t max_connections = 16384;
  size_t max_connections_per_address = 0;
  size_t max_connections_per_principal = 0;
  std::chrono::milliseconds drain_timeout{10000};
  // The TLS handshake and the SASL negotiation together: a peer not done by
  // then loses its connection.
  std::chrono::milliseconds handshake_timeout{10000};
  // Connection timeouts, each counted as connections.closed.<reason> when
  // it fires (up to a sweep tick late); zero turns one off.
  // idle_timeout: no request arriving, none in flight, nothing to write.
  std::chrono::milliseconds idle_timeout{0};
  // request_timeout: a request begun whose next bytes do not come
  // (a client gone quiet mid-frame, a slowloris).
  std::chrono::milliseconds request_timeout{30000};
  // write_timeout: replies not all taken by the peer in this long.
  std::chrono::milliseconds write_timeout{30000};
  // max_age: a connection this old stops taking requests, answers what it
  // has and closes ("max_age"); after age_grace more it is closed anyway.
  std::chrono::milliseconds max_age{0};
  std::chrono::milliseconds age_grace{30000};
  // Threads and queue of the auth pool, where blocking SASL steps run.
  size_t auth_threads = 2;
  size_t auth_queue = 8192;  // beyond it a negotiation is refused "server busy"
};

namespace server {
class ServerCore;
}

class Server {
 public:
  Server(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens a listener now, so a bad endpoint fails at start-up with the
  // reason (the message names the endpoint; the code is the OS error, or
  // invalid_argument for a bad string, certificate or SASL setting).
  // `spec` is an endpoint string (framework/endpoint/endpoint_string.h) or
  // HOST:PORT. Call before start(); may be called several times.
  Status listen(std::string_view spec);
  Status listen(const ListenEndpoint& endpoint);

  // Every call is checked by `authorizer` on its worker before the handler
  // runs (dispatch/dispatcher.h); a refused call gets a TApplicationException
  // "thrum: permission denied: principal P may not call M: REASON" and the
  // connection stays. Set before start().
  void setAuthorizer(Authorizer authorizer);

  void start();
  // Drains and stops (see the order above). Fails when a handler or SASL
  // step was still running at the drain deadline (each logged; the message
  // counts them). Idempotent, returning the first stop's outcome; the
  // destructor calls it.
  Status stop();

  // Rebuilds the TLS context of every TLS endpoint from its files. New
  // connections get the new certificate; established ones keep theirs. All
  // or nothing: on any error nothing changes (logged) and the failure
  // names the endpoint and file. Counted tls.reloads and
  // tls.reload_failures. Thread-safe; runUntilSignal() calls it on SIGHUP.
  Status reloadTls();

  // The bound TCP port of the i-th listen() (useful after binding port 0);
  // 0 for a unix socket.
  uint16_t port(size_t i = 0) const;
  // Where each listener listens ("127.0.0.1:PORT", "unix:/path"), in listen() order.
  std::vector<std::string> listeningOn() const;

  size_t openConnections() const;
  Metrics& metrics() { return *metrics_; }
  const ServerOptions& options() const { return options_; }

 private:
  bool checkSasl(const endpoint::SaslServerOptions& options, std::string& why);

  ServerOptions options_;
  bool running_ = false;
  Status stopped_;  // the last stop()'s outcome
  // Declared in dependency order; destroyed in reverse.
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<server::ServerCore> core_;
  std::vector<std::shared_ptr<endpoint::Listener>> listeners_;
  // Per listener, the context new connections take; null for plain ones.
  // Swapped whole by reloadTls() while accepts read it.
  std::vector<std::unique_ptr<std::atomic<std::shared_ptr<SSL_CTX>>>> tls_contexts_;
  std::vector<std::shared_ptr<const endpoint::SaslServerOptions>> sasl_options_;  // per listener
  std::string keytab_;  // the one KRB5_KTNAME this process set
};

// Tunes glibc's allocator for a server whose requests and replies are
// allocated on one thread and freed on another. By default glibc hands the
// top of a heap back to the kernel once 128 KiB of it is free, so every large
// call pays for page faults on fresh memory (measured on a 64 KiB echo: about
// 30 faults a call and a fifth of the throughput). This keeps up to 64 MiB
// per heap and mmaps only allocations over 32 MiB. Call once, at start-up,
// before threads exist; binaries do, libraries embedding a Server may.
void tuneAllocator();

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread it starts
// from now on, so a shutdown signal that arrives during start-up waits for
// runUntilSignal() instead of killing the process. Call first thing in main.
void holdShutdownSignals();

// What a service binary does once configured: listens on every endpoint in
// `specs`, starts, and prints "listening on ADDR" per endpoint on `out`
// (which scripts and tests read). Fails with the endpoint's reason when one
// cannot be opened; then nothing has started.
Status listenAndStart(Server& server, const std::vector<std::string>& specs, std::ostream& out);

// Waits until SIGINT or SIGTERM arrives (one already pending counts), then
// calls server.stop(). Returns the signal number. SIGHUP meanwhile reloads
// the TLS certificates (server.reloadTls()) and keeps waiting. When the stop
// could not finish (a handler still running past --drain-timeout-ms), the
// process exits at once with kExitStuck instead of returning, so an
// orchestrator's stop never hangs behind a handler that does not return.
int runUntilSignal(Server& server);
inline constexpr int kExitStuck = 3;

}  // namespace thrum
