// Client transports from endpoint strings, for the stock generated Thrift
// clients of any service.
//
//   thrum::Result<thrum::Connection> conn = thrum::connect("unix:path=/run/thrum.sock");
//   if (!conn) die(conn.error());
//   thrum::bench::BenchClient bench(conn->protocol);
//   bench.ping();
//
// The grammar is the connect half of framework/endpoint/endpoint_string.h
// (tcp:host=H:port=P, unix:path=P, tls:host=H:port=P[:ca=F][:cert=F:key=F],
// tls:unix:path=P:server_name=N, and on any of them
// sasl=MECH:user=U[:password_file=F][:qop=...]); HOST:PORT works for TCP too. TLS verifies
// the server's chain (the CA file, or the system store) and its name (the
// host, an IP address against IP SANs, or server_name=) unless verify=no. The connection is open
// when connect() returns (Thrift's TLS socket shakes hands on the first call,
// which then throws TTransportException for a bad certificate); errors name
// the endpoint.
// With sasl=, the connection negotiates before connect() returns (errors
// carry the server's reason) and the protocol sits on the SASL transport
// (ConnectOptions::framed does not apply).
// Not thread-safe: one Connection per calling thread, like any Thrift client.
//
// TLS (Thrift's TSSLSocket) writes through OpenSSL's socket BIO, which does
// not suppress SIGPIPE: a client process that may outlive its server's end of
// a TLS connection should ignore SIGPIPE, as Thrift's C++ documentation says.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <thrift/protocol/TProtocol.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransport.h>

#include "thrum/status.h"

namespace thrum {

struct ConnectOptions {
  bool framed = true;    // TFramedTransport; false: TBufferedTransport
  bool compact = false;  // TCompactProtocol; false: TBinaryProtocol
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{30000};  // per send or receive; 0 waits forever
  // For a sasl= endpoint without password_file=.
  std::string sasl_password = {};
};

struct Connection {
  std::shared_ptr<apache::thrift::transport::TTransport> transport;  // open
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
  // The socket under every layer (a TSSLSocket for TLS): its descriptor,
  // peer and timeouts.
  std::shared_ptr<apache::thrift::transport::TSocket> socket;
  std::shared_ptr<void> keepalive;  // what the transport needs alive (TLS state)
};

Result<Connection> connect(std::string_view endpoint, const ConnectOptions& options = {});

}  // namespace thrum
