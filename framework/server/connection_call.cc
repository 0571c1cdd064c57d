#include "thrum/server/connection_call.h"

#include "thrum/server/connection.h"
#include "thrum/server/worker_link.h"
#include "thrum/transport/overload.h"

namespace thrum::server {

ConnectionCall::ConnectionCall(transport::Protocol protocol, transport::InboundMessage message,
                               std::shared_ptr<const ConnectionInfo> info, size_t headroom,
                               dispatch::CallTimeouts timeouts, Connection& connection,
                               WorkerLink& link, uint64_t slot,
                               std::chrono::milliseconds retry_after)
    : Call(protocol, std::move(message.header), std::move(message.storage), message.offset,
           std::move(info), headroom, timeouts, message.checked),
      connection_(connection),
      link_(link),
      slot_(slot),
      retry_after_(retry_after),
      request_bytes_(request().size()) {}

void ConnectionCall::abandon() {
  std::string reply;
  if (!oneway()) {
    reply = transport::encodeOverload(
        protocol(), header(),
        transport::overloadMessage("shutting_down", "the server stopped before the call ran",
                                   retry_after_),
        replyHeadroom());
  }
  post(std::move(reply));
}

void ConnectionCall::post(std::string reply) {
  link_.push(std::shared_ptr<Connection>(takeConnection(), &connection_), slot_, std::move(reply),
             request_bytes_);
}

}  // namespace thrum::server
