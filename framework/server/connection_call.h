// ConnectionCall: a request of a server connection as the worker pool sees
// it, and the reply path's ownership in one place.
//
// Connection::submit() makes one per request and offers it to its lane's
// pool. The call owns its connection: the only reference is the aliased
// shared_ptr<const ConnectionInfo> its CallContext carries (the handler's
// view of the connection costs no allocation of its own). When the call
// completes, or the pool abandons it unrun, that reference is taken back
// out of the Call (Call::takeConnection), turned back into the connection
// it aliases, and travels with the reply through the I/O thread's
// WorkerLink to Connection::onCallDone. So a connection is released, and
// if it was the last reference destroyed, only on its own I/O thread, never
// on a worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "thrum/dispatch/call.h"
#include "thrum/transport/message_reader.h"

namespace thrum::server {

class Connection;
class WorkerLink;

class ConnectionCall final : public dispatch::Call {
 public:
  // `info` aliases `connection`'s ownership; `slot` is the reply's place
  // (Connection::kNoSlot for a oneway call).
  ConnectionCall(transport::Protocol protocol, transport::InboundMessage message,
                 std::shared_ptr<const ConnectionInfo> info, size_t headroom,
                 dispatch::CallTimeouts timeouts, Connection& connection, WorkerLink& link,
                 uint64_t slot, std::chrono::milliseconds retry_after);

  void complete(std::string reply) override { post(std::move(reply)); }
  // The pool stopped before the call ran. The request was read whole, so
  // the client is owed an answer rather than silence: shutting_down.
  void abandon() override;

 private:
  void post(std::string reply);

  Connection& connection_;
  WorkerLink& link_;
  uint64_t slot_;
  std::chrono::milliseconds retry_after_;
  size_t request_bytes_;  // what its request holds of the memory budget until done
};

}  // namespace thrum::server
