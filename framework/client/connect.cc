#include "framework/client/connect.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>

#include "framework/endpoint/endpoint_string.h"
#include "framework/endpoint/listener.h"

namespace thrum::client {

using apache::thrift::transport::TSocket;
using apache::thrift::transport::TSSLSocketFactory;

std::optional<Connection> connect(std::string_view endpoint, const Options& options,
                                  std::string& error) {
  std::optional<endpoint::ConnectEndpoint> ep = endpoint::parseConnectSpec(endpoint, error);
  if (!ep) return std::nullopt;
  std::shared_ptr<TSocket> socket;
  Connection c;
  if (ep->tls) {
    const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep->where);
    if (tcp == nullptr) {
      error = std::string(endpoint) + ": TLS over a unix socket is not supported for clients";
      return std::nullopt;
    }
    if (!ep->tls->verify) {
      // Thrift's TLS socket checks the verification result whatever it is
      // told; refusing here is clearer than failing on the first call.
      error = std::string(endpoint) + ": verify=no is not supported for clients";
      return std::nullopt;
    }
    if (!ep->tls->server_name.empty() && ep->tls->server_name != tcp->host) {
      error = std::string(endpoint) + ": server_name= other than the host is not supported";
      return std::nullopt;
    }
    try {
      // Thrift's own TLS socket: the stock client stack, with the server's
      // chain and host name verified.
      auto factory = std::make_shared<TSSLSocketFactory>();
      factory->authenticate(true);
      if (ep->tls->ca.empty()) {
        factory->loadTrustedCertificates(nullptr, "/etc/ssl/certs");
      } else {
        factory->loadTrustedCertificates(ep->tls->ca.c_str());
      }
      if (!ep->tls->cert.empty()) {
        factory->loadCertificate(ep->tls->cert.c_str());
        factory->loadPrivateKey(ep->tls->key.c_str());
      }
      socket = factory->createSocket(tcp->host, tcp->port);
      c.keepalive = factory;  // OpenSSL's state lives as long as a factory does
    } catch (const apache::thrift::TException& e) {
      error = std::string(endpoint) + ": " + e.what();
      return std::nullopt;
    }
  } else if (const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep->where)) {
    socket = std::make_shared<TSocket>(tcp->host, tcp->port);
  } else {
    const auto& unix_ep = std::get<endpoint::UnixConnect>(ep->where);
    // TSocket takes an abstract name with its leading NUL.
    socket = std::make_shared<TSocket>(unix_ep.abstract ? std::string(1, '\0') + unix_ep.path
                                                        : unix_ep.path);
  }
  socket->setConnTimeout(static_cast<int>(options.connect_timeout.count()));
  socket->setRecvTimeout(static_cast<int>(options.io_timeout.count()));
  socket->setSendTimeout(static_cast<int>(options.io_timeout.count()));

  if (options.framed) {
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
    c.transport->open();
  } catch (const apache::thrift::TException& e) {
    error = std::string(endpoint) + ": " + e.what();
    return std::nullopt;
  }
  return c;
}

}  // namespace thrum::client
