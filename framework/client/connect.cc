#include "framework/client/connect.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "framework/endpoint/endpoint_string.h"
#include "framework/endpoint/listener.h"

namespace thrum::client {

using apache::thrift::transport::TSocket;

std::optional<Connection> connect(std::string_view endpoint, const Options& options,
                                  std::string& error) {
  std::string kind(endpoint.substr(0, endpoint.find(':')));
  std::optional<endpoint::ConnectEndpoint> ep;
  if (kind == "tcp" || kind == "unix" || kind == "tls") {
    ep = endpoint::parseConnectEndpoint(endpoint, error);
  } else if (auto hp = endpoint::parseHostPort(endpoint, error)) {
    ep = endpoint::ConnectEndpoint{endpoint::TcpConnect{hp->host, hp->port}, std::nullopt,
                                   std::string(endpoint)};
  } else {
    error = "'" + std::string(endpoint) + "' is neither an endpoint string nor HOST:PORT (" +
            error + ")";
  }
  if (!ep) return std::nullopt;
  if (ep->tls) {
    error = std::string(endpoint) + ": TLS client endpoints are not supported yet";
    return std::nullopt;
  }

  std::shared_ptr<TSocket> socket;
  if (const auto* tcp = std::get_if<endpoint::TcpConnect>(&ep->where)) {
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

  Connection c;
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
