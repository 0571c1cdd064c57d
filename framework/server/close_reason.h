// CloseReason: why a connection closed, as the connections.closed.<name>
// counters and the logs spell it.
//
// Either one of the connection's own reasons (a peer that went, a timeout,
// a limit, a TLS or SASL failure, shutdown) or the wire error that ended it
// (transport::WireErrc, named by transport::shortName). The names are the
// operator's vocabulary: framework/README.md lists them, and tests and
// dashboards read the counters by them, so a name never changes.
#pragma once

#include <cstdint>
#include <string_view>

#include "thrum/server/connection_limits.h"
#include "thrum/transport/wire.h"

namespace thrum::server {

class CloseReason {
 public:
  enum Kind : uint8_t {
    kPeerClosed,  // a FIN, after what was in flight is answered
    kPeerReset,
    kIoError,
    kShutdown,      // the server drained the connection
    kDrainTimeout,  // still open when the drain's time was up
    kIdleTimeout,
    kRequestTimeout,
    kWriteTimeout,
    kMaxAge,
    kMaxAgeGrace,
    kMaxConnections,  // the ConnectionLimits refusals
    kMaxConnectionsPerAddress,
    kMaxConnectionsPerPrincipal,
    kTlsHandshakeFailed,
    kTlsHandshakeTimeout,
    kTlsError,
    kTlsRenegotiation,
    kSaslFailed,  // the peer's credentials were refused (BAD)
    kSaslError,   // the negotiation itself went wrong (ERROR)
    kSaslTimeout,
    kAuthBusy,
    kSaslDecodeFailed,
    kSaslEncodeFailed,
    kWire,  // a wire error: wire() says which
  };

  constexpr CloseReason(Kind kind) : kind_(kind) {}  // NOLINT: a reason is its kind
  constexpr CloseReason(transport::WireErrc wire) : kind_(kWire), wire_(wire) {}  // NOLINT
  // The reason a connection refused by `refusal` closes with.
  static CloseReason of(ConnectionLimits::Refusal refusal);

  Kind kind() const { return kind_; }
  transport::WireErrc wire() const { return wire_; }
  // "peer_closed", "max_connections", "too_large", ...
  std::string_view name() const;

  friend bool operator==(CloseReason, CloseReason) = default;

 private:
  Kind kind_;
  transport::WireErrc wire_ = transport::WireErrc::kOk;
};

}  // namespace thrum::server
