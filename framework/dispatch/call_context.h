// CallContext: what a handler may know about the call it is serving.
//
//   void BenchHandler::ping() {
//     const thrum::CallContext* call = thrum::CallContext::current();
//     spdlog::info("ping from {} on connection {}", call->peer(), call->connectionId());
//   }
//
// current() is non-null only on a worker thread while it runs a call, and
// the pointer is valid until the handler returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace thrum {

namespace dispatch {
class Call;
}

// What TLS and SASL established about a connection.
struct ConnectionSecurity {
  std::string tls_version;  // "TLSv1.3" on a TLS endpoint, else ""
  // The client certificate, when it sent one: its subject in RFC 2253 form
  // ("CN=billing,O=Example") and its subject alternative names
  // ("DNS:billing.internal", "URI:spiffe://example/billing", "IP:10.0.0.7").
  std::string tls_peer_subject;
  std::vector<std::string> tls_peer_alt_names;
  // After SASL: who authenticated ("alice@EXAMPLE.COM"), how, and the
  // protection of the data ("auth", "auth-int", "auth-conf"); else "".
  std::string principal;
  std::string sasl_mechanism;
  std::string sasl_qop;
};

// Facts fixed for a connection's whole life, shared by all its calls.
struct ConnectionInfo {
  uint64_t id = 0;   // unique within the process, never reused
  std::string peer;  // "ADDR:PORT" of the client as the server saw it

  // What TLS and SASL established; every field empty on a plain connection.
  const ConnectionSecurity& security() const { return layers ? *layers : kPlain; }

  // Allocated only for a connection with TLS or SASL, so an idle plain one
  // stays small; set before its first call and fixed from then on.
  std::unique_ptr<ConnectionSecurity> layers;

  inline static const ConnectionSecurity kPlain{};
};

class CallContext {
 public:
  using Clock = std::chrono::steady_clock;

  CallContext(std::shared_ptr<const ConnectionInfo> connection, std::string_view method,
              int32_t seqid, Clock::time_point arrived,
              Clock::time_point deadline = Clock::time_point::max())
      : connection_(std::move(connection)),
        method_(method),
        seqid_(seqid),
        arrived_(arrived),
        deadline_(deadline) {}

  // The call running on this thread, or null outside a call.
  static const CallContext* current();

  const std::string& peer() const { return connection_->peer; }
  // The SASL principal, or "" on an endpoint without SASL.
  const std::string& principal() const { return connection_->security().principal; }
  const ConnectionInfo& connection() const { return *connection_; }
  uint64_t connectionId() const { return connection_->id; }
  // The method as the client named it ("Service:method" when multiplexed).
  std::string_view method() const { return method_; }
  int32_t seqid() const { return seqid_; }
  // When the I/O thread had read the whole request.
  Clock::time_point arrived() const { return arrived_; }
  // The call's deadline: its arrival plus the call timeout of its method
  // (ServerOptions::call_timeout, MethodRoute), past which the caller has
  // been answered "call_timeout" and the handler's result is dropped; with
  // no call timeout, its arrival plus the queue timeout, past which its
  // caller has likely given up; time_point::max() with neither. A handler
  // past it may stop early.
  Clock::time_point deadline() const { return deadline_; }
  // Time left until the deadline (zero once past; duration::max() without one).
  Clock::duration remaining() const {
    if (deadline_ == Clock::time_point::max()) return Clock::duration::max();
    auto left = deadline_ - Clock::now();
    return left > Clock::duration::zero() ? left : Clock::duration::zero();
  }

 private:
  friend class ScopedCallContext;
  friend class dispatch::Call;  // hands connection_ on when the call ends
  std::shared_ptr<const ConnectionInfo> connection_;
  std::string_view method_;  // points into the Call's header
  int32_t seqid_;
  Clock::time_point arrived_;
  Clock::time_point deadline_;
};

// Makes `context` current() on this thread for its own lifetime.
class ScopedCallContext {
 public:
  explicit ScopedCallContext(const CallContext& context);
  ~ScopedCallContext();
  ScopedCallContext(const ScopedCallContext&) = delete;
  ScopedCallContext& operator=(const ScopedCallContext&) = delete;

 private:
  const CallContext* previous_;
};

}  // namespace thrum
