#include "thrum/client/connect.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>

#include "thrum/client/sasl_transport.h"
#include "thrum/endpoint/endpoint_string.h"
#include "thrum/endpoint/host_port.h"
#include "thrum/endpoint/listener.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace thrum {

using apache::thrift::transport::TSocket;
using apache::thrift::transport::TSSLSocketFactory;

namespace {

// Thrift's TLS socket factory with its OpenSSL context in reach, so that
// verification is OpenSSL's own: the chain against the CA, then the name.
class TlsFactory : public TSSLSocketFactory {
 public:
  SSL_CTX* native() { return ctx_->get(); }
};

// Thrift checks the peer again after the handshake, against the host its
// socket was opened with (none for a descriptor). OpenSSL has already
// decided, so this check passes whatever OpenSSL passed.
class DecidedByOpenssl : public apache::thrift::transport::AccessManager {
 public:
  Decision verify(const sockaddr_storage&) noexcept override { return ALLOW; }
};

// verify=no: the chain's result is recorded as OK, since Thrift refuses any
// other recorded result even when told not to authenticate.
int acceptAnyChain(int /*preverify_ok*/, X509_STORE_CTX* store) {
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

// Points the context's verification at `name`: an IP address is matched
// against the certificate's IP SANs, anything else against its DNS names.
void verifyName(SSL_CTX* ctx, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  in6_addr any;
  if (inet_pton(AF_INET, name.c_str(), &any) == 1 || inet_pton(AF_INET6, name.c_str(), &any) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  }
}

// The first line of `path`, without its newline.
bool readPasswordFile(const std::string& path, std::string& password, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "password_file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::getline(in, password);
  return true;
}

// A connected unix stream socket, or -1 with `error` set.
int connectUnix(const endpoint::UnixConnect& where, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t at = where.abstract ? 1 : 0;  // an abstract name starts with NUL
  if (at + where.path.size() >= sizeof(addr.sun_path)) {
    error = "unix path too long";
    return -1;
  }
  std::memcpy(addr.sun_path + at, where.path.data(), where.path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + at + where.path.size() +
                                         (where.abstract ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// A TLS socket for `ep` (not yet shaking hands), or null with `error` set.
std::shared_ptr<TSocket> tlsSocket(const endpoint::ConnectEndpoint& ep, Connection& c,
                                   std::string& error) {
  const endpoint::TlsClientOptions& tls = *ep.tls;
  const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep.where);
  std::string name = !tls.server_name.empty() ? tls.server_name : tcp ? tcp->host : "";
  if (tls.verify && name.empty()) {
    error =
        "TLS over a unix socket needs server_name= (the name the certificate must carry) "
        "or verify=no";
    return nullptr;
  }
  // OpenSSL 3 starts and ends itself. Left to Thrift, the last factory
  // destroyed in the process runs its library-wide cleanup
  // (CONF_modules_unload) while a server in the same process, or another
  // client, may be using OpenSSL on other threads.
  static const bool manual = [] {
    TSSLSocketFactory::setManualOpenSSLInitialization(true);
    return true;
  }();
  (void)manual;
  auto factory = std::make_shared<TlsFactory>();
  SSL_CTX* ctx = factory->native();
  if (tls.verify) {
    if (tls.ca.empty()) {
      factory->loadTrustedCertificates(nullptr, "/etc/ssl/certs");
    } else {
      factory->loadTrustedCertificates(tls.ca.c_str());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    verifyName(ctx, name);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, acceptAnyChain);
  }
  if (!tls.cert.empty()) {
    factory->loadCertificate(tls.cert.c_str());
    factory->loadPrivateKey(tls.key.c_str());
  }
  factory->access(std::make_shared<DecidedByOpenssl>());
  c.keepalive = factory;  // OpenSSL's state lives as long as a factory does
  if (tcp != nullptr) return factory->createSocket(tcp->host, tcp->port);
  int fd = connectUnix(std::get<endpoint::UnixConnect>(ep.where), error);
  if (fd < 0) return nullptr;
  return factory->createSocket(fd);  // connected: open() is not called for it
}

// The socket under the connection; `connected` if it is connected already
// (a unix socket under TLS), so open() is not called for it. Null on
// failure, with `error`.
std::shared_ptr<TSocket> openSocket(const endpoint::ConnectEndpoint& ep, Connection& c,
                                    bool& connected, std::string& error) {
  connected = false;
  if (ep.tls) {
    std::shared_ptr<TSocket> socket;
    try {
      socket = tlsSocket(ep, c, error);
    } catch (const apache::thrift::TException& e) {
      error = e.what();
    }
    connected = socket && std::holds_alternative<endpoint::UnixConnect>(ep.where);
    return socket;
  }
  if (const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep.where)) {
    return std::make_shared<TSocket>(tcp->host, tcp->port);
  }
  const auto& unix_ep = std::get<endpoint::UnixConnect>(ep.where);
  // TSocket takes an abstract name with its leading NUL.
  return std::make_shared<TSocket>(unix_ep.abstract ? std::string(1, '\0') + unix_ep.path
                                                    : unix_ep.path);
}

// The SASL transport over `socket`, as the endpoint string and the options
// say; null, with `error`, if the password file cannot be read.
std::shared_ptr<SaslClientTransport> saslTransport(std::shared_ptr<TSocket> socket,
                                                   const endpoint::ConnectEndpoint& ep,
                                                   const ConnectOptions& options,
                                                   std::string& error) {
  SaslClientTransport::Options so = *ep.sasl;
  std::string password = options.sasl_password;
  if (!so.password_file.empty() && !readPasswordFile(so.password_file, password, error)) {
    return nullptr;
  }
  if (so.hostname.empty()) {
    const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep.where);
    so.hostname = tcp ? tcp->host : "localhost";
  }
  return std::make_shared<SaslClientTransport>(std::move(socket), std::move(so),
                                               std::move(password));
}

}  // namespace

Result<Connection> connect(std::string_view endpoint, const ConnectOptions& options) {
  std::string error;
  auto failed = [&](std::string why) {
    return Status::failure(std::string(endpoint) + ": " + why);
  };
  std::optional<endpoint::ConnectEndpoint> ep = endpoint::parseConnectSpec(endpoint, error);
  if (!ep) return Status::failure(error, std::make_error_code(std::errc::invalid_argument));
  Connection c;
  bool connected = false;
  std::shared_ptr<TSocket> socket = openSocket(*ep, c, connected, error);
  if (!socket) return failed(error);
  c.socket = socket;
  socket->setConnTimeout(static_cast<int>(options.connect_timeout.count()));
  socket->setRecvTimeout(static_cast<int>(options.io_timeout.count()));
  socket->setSendTimeout(static_cast<int>(options.io_timeout.count()));

  std::shared_ptr<SaslClientTransport> sasl;
  if (ep->sasl) {
    // The protocol sits directly on the SASL transport, as every SASL peer has it.
    sasl = saslTransport(socket, *ep, options, error);
    if (!sasl) return failed(error);
    c.transport = sasl;
  } else if (options.framed) {
    c.transport = std::make_shared<apache::thrift::transport::TFramedTransport>(socket);
  } else {
    c.transport = std::make_shared<apache::thrift::transport::TBufferedTransport>(socket);
  }
  if (options.compact) {
    c.protocol = std::make_shared<apache::thrift::protocol::TCompactProtocol>(c.transport);
  } else {
    c.protocol = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(c.transport);
  }
  try {
    if (sasl && connected) {
      sasl->negotiateOnly();
    } else if (!connected) {
      c.transport->open();  // for SASL, opens the socket and negotiates
    }
  } catch (const apache::thrift::TException& e) {
    return failed(e.what());
  }
  return c;
}

}  // namespace thrum
