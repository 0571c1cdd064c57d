// SaslHandshake: the server side of one connection's SASL negotiation
// (Thrift's SASL transport: START, OK/CONTINUE ..., COMPLETE), from the
// first negotiation byte to the principal.
//
// It parses the peer's negotiation messages, waits before a START from an
// address that keeps failing (AuthFailures), runs each step on the server's
// auth pool (Cyrus may block there: password lookups, Kerberos), and
// applies the outcome on the connection's I/O thread: a reply, a failure
// answered BAD or ERROR, or success. On success it records the principal,
// mechanism and QoP in the connection's facts, admits the principal
// (Admission), counts it, and hands the connection the security layer and
// any bytes that came after COMPLETE. Kudu's server_negotiation plays this
// part beside its connection.
//
// It reaches its connection only through Host, so the connection keeps the
// socket, the lifecycle and the data phase. Everything runs on the
// connection's I/O thread except the Cyrus step itself.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "thrum/dispatch/call_context.h"
#include "thrum/endpoint/endpoint_string.h"
#include "thrum/server/admission.h"
#include "thrum/server/close_reason.h"
#include "thrum/transport/sasl_layer.h"
#include "thrum/transport/sasl_server.h"
#include "thrum/transport/sasl_wire.h"

namespace thrum::server {

class ServerCore;

class SaslHandshake {
 public:
  // What the handshake needs of its connection.
  class Host {
   public:
    // Ownership of the connection, held while a step is away on the auth
    // pool or waiting out a delay, and given back on the I/O thread. (The
    // handshake lives as long as its connection.)
    virtual std::shared_ptr<void> keepAlive() = 0;
    virtual bool closed() const = 0;
    // Bytes that arrive are still to be handled (not closing for a reason).
    virtual bool takesInput() const = 0;
    // Sends negotiation bytes to the peer, ahead of any reply.
    virtual void sendNegotiation(std::string_view bytes) = 0;
    // The negotiation failed and its answer is sent: close, letting the
    // peer read it first.
    virtual void negotiationFailed(CloseReason reason) = 0;
    // Where TLS and SASL record what they established.
    virtual ConnectionSecurity& securityFacts() = 0;
    // Authenticated and COMPLETE sent: the data phase begins with `layer`
    // (null for auth QoP), and `early` is what the peer sent after its
    // last negotiation message, the data phase's first bytes.
    virtual void authenticated(std::unique_ptr<transport::sasl::SecurityLayer> layer,
                               std::string early) = 0;
    // A step's outcome came back: reading may go on.
    virtual void resumeReading() = 0;

   protected:
    ~Host() = default;
  };

  SaslHandshake(std::shared_ptr<const endpoint::SaslServerOptions> options, ServerCore& core,
                boost::asio::io_context::executor_type executor, const ConnectionInfo& info,
                Admission& admission, Host& host);
  SaslHandshake(const SaslHandshake&) = delete;
  SaslHandshake& operator=(const SaslHandshake&) = delete;

  // Negotiation bytes from the peer (after TLS).
  void receive(std::span<const uint8_t> bytes);
  // A step is on the auth pool: the connection reads no more meanwhile.
  bool stepping() const { return stepping_; }
  bool done() const { return done_; }

 private:
  // Reads the next message from what is kept, and steps with it.
  void negotiate();
  void step(transport::sasl::Message message);
  void onStep(transport::sasl::ServerNegotiation::Step step);
  void succeed();
  void refuse();
  // Answers BAD or ERROR with `payload`, logs `log`, and has the connection
  // close lingering.
  void fail(transport::sasl::Status status, const std::string& payload, CloseReason reason,
            const std::string& log);

  std::shared_ptr<const endpoint::SaslServerOptions> options_;
  ServerCore& core_;
  boost::asio::io_context::executor_type executor_;
  const ConnectionInfo& info_;
  Admission& admission_;
  Host& host_;
  transport::sasl::NegotiationReader reader_;
  std::string pending_;  // what arrived and is not parsed yet
  std::unique_ptr<transport::sasl::ServerNegotiation> negotiation_;
  bool stepping_ = false;
  bool done_ = false;
};

}  // namespace thrum::server
