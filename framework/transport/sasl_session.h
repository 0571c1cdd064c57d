// Session: one Cyrus SASL connection handle (sasl_conn_t) together with
// everything Cyrus keeps a pointer to for as long as the handle lives.
//
//   std::string error;
//   auto session = sasl::Session::forServer(options, error);  // or forClient(...)
//   if (!session) fail(error);
//   sasl_server_start(session->get(), ...);
//   ...
//   SecurityLayer layer(std::move(session));  // auth-int/auth-conf: the handle goes on
//
// What Cyrus 2.1.28 borrows rather than copies (lib/common.c, the plugins):
//   - the callback array given to sasl_server_new/sasl_client_new, read on
//     every step and again inside sasl_dispose();
//   - the context pointer of each callback: the endpoint's options (the
//     server's GETOPT callback), the user name (the client's USER/AUTHNAME);
//   - the sasl_secret_t a client's PASS callback hands out, which the
//     password mechanisms keep and read on later steps.
// It copies the service, host and realm names, the address strings and the
// security properties given to sasl_setprop. A Session owns the borrowed
// things for exactly the handle's life: the destructor disposes of the handle
// first and frees them after. It is neither copied nor moved (Cyrus holds
// pointers into it) and exists only behind a unique_ptr, so whoever holds the
// handle holds what it borrows: passing the handle on passes both.
//
// Not thread-safe: one thread at a time uses a Session (the auth pool during
// the negotiation, then the connection's I/O thread). Cyrus's own shared
// state (the DIGEST-MD5 reauthentication cache, the GSSAPI plugin's lock) is
// guarded by the pthread mutexes sasl_layer.h installs before Cyrus starts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "thrum/endpoint/endpoint_string.h"

typedef struct sasl_conn sasl_conn_t;
struct sasl_callback;

namespace thrum::transport::sasl {

class Session {
 public:
  // A server handle for one negotiation on an endpoint with `options`
  // (service, host name, realm; mechanisms' options answered from them,
  // never from a file). Null with `error` when Cyrus cannot make one.
  static std::unique_ptr<Session> forServer(
      std::shared_ptr<const endpoint::SaslServerOptions> options, std::string& error);

  // A client handle. `user` empty: the mechanism finds out who (GSSAPI's
  // ticket cache) and no name callback is offered.
  static std::unique_ptr<Session> forClient(const std::string& service, const std::string& hostname,
                                            std::string user, std::string_view password,
                                            std::string& error);

  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  sasl_conn_t* get() const { return conn_; }

  // Sets what a negotiation may agree to: the SSF range of the QoP names in
  // `qop` (auth 0, auth-int 1, auth-conf 2..256), and the largest packet
  // Cyrus accepts at 0xFFFFFF (Java wraps a whole message in one packet
  // whatever was negotiated). False with `error` naming a name that is no QoP.
  bool setSecurityProperties(const std::vector<std::string>& qop, std::string& error);

  // "SASL(-13): authentication failure: ..." for a failed call that
  // returned `rc`.
  std::string describe(int rc) const;
  // After a successful negotiation: who authenticated, and the security
  // strength factor agreed (0: auth only).
  std::optional<std::string> userName() const;
  unsigned ssf() const;
  // The most plaintext one sasl_encode() takes (SASL_MAXOUTBUF); 0 unknown.
  unsigned maxOutBuf() const;

 private:
  Session();

  // Borrowed by Cyrus; freed only after conn_ is disposed (~Session).
  std::shared_ptr<const endpoint::SaslServerOptions> server_options_;  // GETOPT's context
  std::string user_;                                                   // USER/AUTHNAME's context
  std::unique_ptr<char[]> secret_;              // the sasl_secret_t PASS hands out
  size_t secret_size_ = 0;                      // to wipe it
  std::unique_ptr<sasl_callback[]> callbacks_;  // the array itself
  sasl_conn_t* conn_ = nullptr;
};

}  // namespace thrum::transport::sasl
