// ServerNegotiation: the server side of Thrift's SASL negotiation over Cyrus
// SASL, one object per connection. It takes the client's negotiation
// messages one at a time and says what to answer:
//
//   START(mech)           -> (nothing yet: the initial response always follows)
//   OK|COMPLETE(response) -> OK(challenge) while the mechanism goes on,
//                            COMPLETE(success data) when it is done,
//                            BAD(reason) when authentication fails,
//   anything else         -> ERROR(reason)
//
// receive() may block (password database lookups, Kerberos): the server
// calls it on its auth pool, never on an I/O thread. Not thread-safe; one
// call at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "thrum/endpoint/endpoint_string.h"
#include "thrum/transport/sasl_layer.h"
#include "thrum/transport/sasl_session.h"
#include "thrum/transport/sasl_wire.h"

namespace thrum::transport::sasl {

// Checks what can be checked before any client comes: the library starts,
// every listed mechanism is installed, a password mechanism has a sasldb,
// the sasldb and keytab files can be read.
bool checkServerOptions(const endpoint::SaslServerOptions& options, std::string& error);

class ServerNegotiation {
 public:
  explicit ServerNegotiation(std::shared_ptr<const endpoint::SaslServerOptions> options);
  ~ServerNegotiation();
  ServerNegotiation(const ServerNegotiation&) = delete;
  ServerNegotiation& operator=(const ServerNegotiation&) = delete;

  enum class State {
    kContinue,  // send the reply, read the next message
    kDone,      // authenticated: send the reply (COMPLETE), then the data phase
    kFailed,    // send the reply (BAD or ERROR), then close
  };
  struct Step {
    State state = State::kContinue;
    Status status = Status::kOk;  // of the reply, when there is one
    std::string payload;
    bool reply = false;  // START is answered only after the initial response
    // For the server's log when failed: Cyrus's detail, never a password.
    std::string reason;
  };

  Step receive(const Message& message);

  // The most of an unsupported mechanism's name the BAD reply (and the
  // log) repeats; real names are at most 20 characters (RFC 4422).
  static constexpr size_t kMaxMechanismEcho = 64;

  // After kDone. The principal is "user@REALM": a name without a realm gets
  // the endpoint's realm= (Cyrus drops the default Kerberos realm).
  const std::string& principal() const { return principal_; }
  // The mechanism once START named one this endpoint offers; "" before.
  const std::string& mechanism() const { return mechanism_; }
  Qop qop() const { return qop_; }
  // The security layer for auth-int and auth-conf, holding the Cyrus
  // session (and what Cyrus borrows) from here on; null for auth, in which
  // case the session is already freed.
  std::unique_ptr<SecurityLayer> takeSecurityLayer();

 private:
  Step fail(Status status, std::string payload, std::string reason);
  Step start(const Message& message);
  Step step(const Message& message, bool first);
  Step finish(const char* out, unsigned out_len);

  std::shared_ptr<const endpoint::SaslServerOptions> options_;
  std::unique_ptr<Session> session_;  // from START until done or failed
  enum class Phase {
    kExpectStart,
    kExpectInitial,
    kStepping,
    kFinished
  } phase_ = Phase::kExpectStart;
  std::string mechanism_;
  std::string principal_;
  Qop qop_ = Qop::kAuth;
};

}  // namespace thrum::transport::sasl
