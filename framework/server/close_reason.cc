#include "thrum/server/close_reason.h"

#include <iterator>

namespace thrum::server {
namespace {

// One row per Kind, in enum order.
struct KindName {
  CloseReason::Kind kind;
  std::string_view name;
};
constexpr KindName kNames[] = {
    {CloseReason::kPeerClosed, "peer_closed"},
    {CloseReason::kPeerReset, "peer_reset"},
    {CloseReason::kIoError, "io_error"},
    {CloseReason::kShutdown, "shutdown"},
    {CloseReason::kDrainTimeout, "drain_timeout"},
    {CloseReason::kIdleTimeout, "idle_timeout"},
    {CloseReason::kRequestTimeout, "request_timeout"},
    {CloseReason::kWriteTimeout, "write_timeout"},
    {CloseReason::kMaxAge, "max_age"},
    {CloseReason::kMaxAgeGrace, "max_age_grace"},
    {CloseReason::kMaxConnections, "max_connections"},
    {CloseReason::kMaxConnectionsPerAddress, "max_connections_per_address"},
    {CloseReason::kMaxConnectionsPerPrincipal, "max_connections_per_principal"},
    {CloseReason::kTlsHandshakeFailed, "tls_handshake_failed"},
    {CloseReason::kTlsHandshakeTimeout, "tls_handshake_timeout"},
    {CloseReason::kTlsError, "tls_error"},
    {CloseReason::kTlsRenegotiation, "tls_renegotiation"},
    {CloseReason::kSaslFailed, "sasl_failed"},
    {CloseReason::kSaslError, "sasl_error"},
    {CloseReason::kSaslTimeout, "sasl_timeout"},
    {CloseReason::kAuthBusy, "auth_busy"},
    {CloseReason::kSaslDecodeFailed, "sasl_decode_failed"},
    {CloseReason::kSaslEncodeFailed, "sasl_encode_failed"},
    {CloseReason::kWire, "wire"},
};

constexpr bool rowsInEnumOrder() {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (static_cast<size_t>(kNames[i].kind) != i) return false;
  }
  return true;
}
static_assert(rowsInEnumOrder(), "kNames must list every CloseReason::Kind in enum order");

}  // namespace

CloseReason CloseReason::of(ConnectionLimits::Refusal refusal) {
  switch (refusal) {
    case ConnectionLimits::Refusal::kPerAddress:
      return kMaxConnectionsPerAddress;
    case ConnectionLimits::Refusal::kPerPrincipal:
      return kMaxConnectionsPerPrincipal;
    case ConnectionLimits::Refusal::kTotal:
    case ConnectionLimits::Refusal::kNone:
      break;
  }
  return kMaxConnections;
}

std::string_view CloseReason::name() const {
  if (kind_ == kWire) return transport::shortName(wire_);
  auto i = static_cast<size_t>(kind_);
  return i < std::size(kNames) ? kNames[i].name : "unknown";
}

}  // namespace thrum::server
