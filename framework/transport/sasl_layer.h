// What the SASL server and client share: the Cyrus SASL library set up once
// per process with no file under /etc consulted, the quality-of-protection
// names, and the security layer a negotiation leaves behind when it agreed
// on auth-int or auth-conf.
//
// Not thread-safe per object: a SecurityLayer belongs to one connection.
// The Cyrus handle and what it borrows: sasl_session.h.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace thrum::transport::sasl {

class Session;

// Quality of protection, weakest first.
enum class Qop {
  kAuth,      // authentication only: data frames carry plain Thrift bytes
  kAuthInt,   // every frame is a SASL packet with an integrity check
  kAuthConf,  // every frame is an encrypted SASL packet
};

std::string_view toString(Qop qop);
std::optional<Qop> parseQop(std::string_view text);  // "auth", "auth-int", "auth-conf"
// The QoP a negotiated security strength factor means: 0 auth, 1 auth-int,
// more auth-conf.
Qop qopOfSsf(unsigned ssf);

// Cyrus stores every callback as int (*)(void); the cast goes by way of
// void (*)(), the one function type compilers accept casts from silently.
template <typename F>
int (*callbackProc(F* f))() {
  return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(f));
}

// Sets up Cyrus SASL for servers (once per process; later calls return the
// first outcome). Cyrus reads no configuration file: options come from each
// connection's callbacks. Before either side starts, Cyrus is given pthread
// mutexes: its own do nothing, and thrum runs negotiations on several
// threads at once (the DIGEST-MD5 plugin shares a reauthentication cache
// between connections; the GSSAPI plugin serialises calls into the GSS
// library with a lock). False with `error` when the library cannot start.
bool initServerLibrary(std::string& error);
bool initClientLibrary(std::string& error);
// The mechanisms the installed Cyrus plugins offer ("PLAIN", "GSSAPI", ...).
std::vector<std::string> availableMechanisms();

// The encode/decode half of a negotiated connection with a security layer.
class SecurityLayer {
 public:
  // Takes the negotiated session, and with it what Cyrus borrows.
  explicit SecurityLayer(std::unique_ptr<Session> session);
  ~SecurityLayer();

  // Appends the packets carrying `plain` (each with its 4-byte length) to `out`.
  bool encode(std::string_view plain, std::string& out, std::string& error);
  // Appends the plaintext of one packet (its 4-byte length included) to `out`.
  bool decode(std::string_view packet, std::string& out, std::string& error);

 private:
  std::unique_ptr<Session> session_;
  unsigned max_plain_ = 0;  // SASL_MAXOUTBUF: the most one encode may take
};

}  // namespace thrum::transport::sasl
