// Endpoint strings: where a server listens and where a client connects,
// written the way Twisted's serverFromString/clientFromString write them.
//
//   tcp:9090                         tcp:port=9090:interface=127.0.0.1:backlog=512
//   tcp:port=0:interface=::          (IPv6 and, with interface=::, dual stack)
//   unix:/run/thrum.sock             unix:address=/run/thrum.sock:mode=0660:backlog=64
//   unix:@thrum                      (abstract namespace: a leading @)
//   fd:3                             (an inherited listening descriptor)
//   systemd:index=0                  systemd:name=thrum-tls   (LISTEN_FDS, LISTEN_FDNAMES)
//   tls:port=8443:cert=c.pem:key=k.pem[:ca=ca.pem][:ciphers=...][:min_version=1.3]
//   tls:unix:address=/run/x.sock:cert=c.pem:key=k.pem   (TLS over any of the above)
//   tcp:9090:sasl=required:mechs=SCRAM-SHA-256,PLAIN:sasldb=/var/lib/thrum/sasldb:realm=EXAMPLE
//                                    (SASL on any of the above, TLS or not)
//
// Clients:
//   tcp:host=db1:port=9090           unix:path=/run/thrum.sock
//   tls:host=db1:port=8443:ca=ca.pem[:cert=c.pem:key=k.pem][:server_name=db1][:verify=no]
//   tcp:host=db1:port=9090:sasl=SCRAM-SHA-256:user=alice:password_file=/run/secrets/alice
//
// Grammar: KIND ':' ARG (':' ARG)*, where ARG is KEY '=' VALUE or, first
// only, a bare positional value (tcp's port, unix's path, fd's number).
// A backslash escapes the next character, so '\:' is a colon inside a value
// (an IPv6 address: interface=\:\:1). Unknown keys, duplicate keys, missing
// values and out-of-range numbers are errors that name the key.
//
// Parsing is a pure function of the text: no socket, no file is touched.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace thrum::endpoint {

struct TlsServerOptions {
  std::string cert;                 // PEM certificate chain
  std::string key;                  // PEM private key
  std::string ca;                   // when set, clients must present a certificate signed by it
  std::string ciphers;              // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

// Thrift's SASL transport on a listening endpoint: sasl=required with
//   mechs=SCRAM-SHA-256,PLAIN  service=thrift  hostname=FQDN  realm=EXAMPLE.COM
//   qop=auth,auth-int,auth-conf  sasldb=/var/lib/thrum/sasldb  keytab=/etc/thrum.keytab
//   saslauthd=/run/saslauthd/mux
struct SaslServerOptions {
  std::vector<std::string> mechs;  // offered, exact names; required
  std::string service = "thrift";  // the service clients name (GSSAPI: service/hostname)
  std::string hostname;            // the server's FQDN; empty: gethostname()
  std::string realm;  // user realm of sasldb users, and the realm given to names without one
  std::vector<std::string> qop{"auth", "auth-int", "auth-conf"};  // any of these
  std::string sasldb;  // password database written by saslpasswd2 -f FILE -u REALM
  // saslauthd's socket (…/mux): PLAIN and LOGIN passwords are checked there
  // (PAM, LDAP, ...) instead of in the sasldb.
  std::string saslauthd;
  std::string keytab;  // Kerberos keytab for GSSAPI; empty: KRB5_KTNAME or the system's
  size_t max_negotiation_bytes = 1 << 20;  // per negotiation message
};

struct TcpListen {
  std::string interface = "0.0.0.0";  // "::" listens on IPv6 and IPv4
  uint16_t port = 0;
};

struct UnixListen {
  std::string path;  // for an abstract socket, the name without its '@'
  bool abstract = false;
  std::optional<mode_t> mode;  // chmod after bind (not for abstract sockets)
};

struct FdListen {
  int fd = -1;
};

struct SystemdListen {
  std::optional<int> index;  // position among the passed descriptors
  std::string name;          // or the name given by FileDescriptorName=
};

struct ListenEndpoint {
  std::variant<TcpListen, UnixListen, FdListen, SystemdListen> where;
  int backlog = 4096;  // the kernel caps it at net.core.somaxconn
  std::optional<TlsServerOptions> tls;
  std::optional<SaslServerOptions> sasl;
  std::string text;  // as written, for logs

  bool isTls() const { return tls.has_value(); }
};

struct TlsClientOptions {
  std::string ca;           // CA file to verify the server; empty: the system store
  std::string cert, key;    // client certificate, for mutual TLS
  std::string server_name;  // name to verify and send as SNI; default: the host
  bool verify = true;
};

// SASL on a client endpoint: sasl=MECH with user=NAME, password_file=PATH
// (or the password given in code), service=thrift, hostname=FQDN (default:
// the host), qop=auth-conf (what the client accepts; default any). GSSAPI
// takes its credentials from the Kerberos cache (KRB5CCNAME).
struct SaslClientOptions {
  std::string mech;
  std::string user;
  std::string password_file;
  std::string service = "thrift";
  std::string hostname;
  std::vector<std::string> qop{"auth", "auth-int", "auth-conf"};
};

struct TcpConnect {
  std::string host;
  uint16_t port = 0;
};

struct UnixConnect {
  std::string path;
  bool abstract = false;
};

struct ConnectEndpoint {
  std::variant<TcpConnect, UnixConnect> where;
  std::optional<TlsClientOptions> tls;
  std::optional<SaslClientOptions> sasl;
  std::string text;
};

// Returns the endpoint, or nullopt with `error` saying what is wrong and
// where ("tcp: unknown key 'prot' (expected port, interface, backlog)").
std::optional<ListenEndpoint> parseListenEndpoint(std::string_view text, std::string& error);
std::optional<ConnectEndpoint> parseConnectEndpoint(std::string_view text, std::string& error);

}  // namespace thrum::endpoint
