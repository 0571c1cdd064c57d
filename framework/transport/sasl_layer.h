// What the SASL server and client share: the Cyrus SASL library set up once
// per process with no file under /etc consulted, the quality-of-protection
// names, and the security layer a negotiation leaves behind when it agreed
// on auth-int or auth-conf.
//
// Not thread-safe per object: a SecurityLayer belongs to one connection.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

typedef struct sasl_conn sasl_conn_t;

namespace thrum::transport::sasl {

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

// Cyrus's connection handle, disposed with the object.
using ConnPtr = std::unique_ptr<sasl_conn_t, void (*)(sasl_conn_t*)>;
ConnPtr adoptConn(sasl_conn_t* conn);

// Sets up Cyrus SASL for servers (once per process; later calls return the
// first outcome). Cyrus reads no configuration file: options come from each
// connection's callbacks. False with `error` when the library cannot start.
bool initServerLibrary(std::string& error);
bool initClientLibrary(std::string& error);
// The mechanisms the installed Cyrus plugins offer ("PLAIN", "GSSAPI", ...).
std::vector<std::string> availableMechanisms();

// "SASL(-13): authentication failure: ..." for a failed call on `conn`.
std::string describe(sasl_conn_t* conn, int rc);

// Sets what a negotiation on `conn` may agree to, for both sides: the SSF
// range of the QoP names in `qop` (auth 0, auth-int 1, auth-conf 2..256),
// and the largest packet Cyrus accepts at 0xFFFFFF (Java wraps a whole
// message in one packet whatever was negotiated). False with `error` naming
// a name that is no QoP.
bool setSecurityProperties(sasl_conn_t* conn, const std::vector<std::string>& qop,
                           std::string& error);

// The encode/decode half of a negotiated connection with a security layer.
class SecurityLayer {
 public:
  explicit SecurityLayer(ConnPtr conn);

  // Appends the packets carrying `plain` (each with its 4-byte length) to `out`.
  bool encode(std::string_view plain, std::string& out, std::string& error);
  // Appends the plaintext of one packet (its 4-byte length included) to `out`.
  bool decode(std::string_view packet, std::string& out, std::string& error);

 private:
  ConnPtr conn_;
  unsigned max_plain_ = 0;  // SASL_MAXOUTBUF: the most one encode may take
};

}  // namespace thrum::transport::sasl
