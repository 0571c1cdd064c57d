// Clients for tests: the stock generated Thrift C++ client over any of the
// four stacks, and a raw socket for bytes no stock client would send.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thrift/protocol/TProtocol.h>
#include <thrift/transport/TSocket.h>

#include "Bench.h"
#include "thrum/transport/wire.h"

namespace thrum::testing {

struct Stack {
  transport::Framing framing;
  transport::Protocol protocol;
};

// The four stock client stacks.
inline constexpr Stack kAllStacks[] = {
    {transport::Framing::kFramed, transport::Protocol::kBinary},
    {transport::Framing::kFramed, transport::Protocol::kCompact},
    {transport::Framing::kUnframed, transport::Protocol::kBinary},
    {transport::Framing::kUnframed, transport::Protocol::kCompact},
};

std::string stackName(const Stack& stack);

// Both stacks' transports, protocols and the generated client, connected.
struct StockClient {
  std::shared_ptr<apache::thrift::transport::TSocket> socket;
  std::shared_ptr<apache::thrift::transport::TTransport> transport;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
  std::unique_ptr<bench::BenchClient> bench;

  // The client's local port, to match against the server's view of its peer.
  uint16_t localPort() const;
  void close() { transport->close(); }
};

// Connects to 127.0.0.1:`port`. With `service`, calls go through
// TMultiplexedProtocol under that service name.
StockClient connectStock(uint16_t port, const Stack& stack, const std::string& service = "");

// Encodes what the stock client would send for `calls(client)` without a
// socket: the exact request bytes on the wire, framing included.
std::string encodeWith(const Stack& stack, const std::function<void(bench::BenchClient&)>& calls);

// A blocking loopback socket for raw bytes. Reads give up (throw) after 60 s
// without a byte.
class RawClient {
 public:
  explicit RawClient(uint16_t port);
  void send(std::string_view bytes);
  // Reads until the peer closes; returns what arrived (empty if nothing did).
  std::string readUntilClosed();
  // Reads exactly n bytes; throws on EOF.
  std::string readExactly(size_t n);
  void shutdownWrite();
  void close();
  // Closes with a reset (RST) instead of a FIN: the peer's reads and writes fail.
  void reset();

 private:
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace thrum::testing
