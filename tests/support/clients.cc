#include "tests/support/clients.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TMultiplexedProtocol.h>
#include <thrift/transport/TBufferTransports.h>

namespace thrum::testing {

using namespace apache::thrift;
namespace asio = boost::asio;

std::string stackName(const Stack& stack) {
  return std::string(transport::toString(stack.framing)) + "_" +
         std::string(transport::toString(stack.protocol));
}

namespace {

std::shared_ptr<protocol::TProtocol> makeProtocol(
    const Stack& stack, std::shared_ptr<apache::thrift::transport::TTransport> trans) {
  if (stack.protocol == transport::Protocol::kBinary) {
    return std::make_shared<protocol::TBinaryProtocol>(std::move(trans));
  }
  return std::make_shared<protocol::TCompactProtocol>(std::move(trans));
}

std::shared_ptr<apache::thrift::transport::TTransport> makeTransport(
    const Stack& stack, std::shared_ptr<apache::thrift::transport::TTransport> inner) {
  if (stack.framing == transport::Framing::kFramed) {
    return std::make_shared<apache::thrift::transport::TFramedTransport>(std::move(inner));
  }
  return std::make_shared<apache::thrift::transport::TBufferedTransport>(std::move(inner));
}

}  // namespace

uint16_t StockClient::localPort() const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(socket->getSocketFD(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

StockClient connectStock(uint16_t port, const Stack& stack, const std::string& service) {
  StockClient c;
  c.socket = std::make_shared<apache::thrift::transport::TSocket>("127.0.0.1", port);
  c.socket->setRecvTimeout(30000);
  c.transport = makeTransport(stack, c.socket);
  c.protocol = makeProtocol(stack, c.transport);
  std::shared_ptr<protocol::TProtocol> calls = c.protocol;
  if (!service.empty())
    calls = std::make_shared<protocol::TMultiplexedProtocol>(c.protocol, service);
  c.bench = std::make_unique<bench::BenchClient>(calls);
  c.transport->open();
  return c;
}

std::string encodeWith(const Stack& stack, const std::function<void(bench::BenchClient&)>& calls) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  auto trans = makeTransport(stack, buffer);
  bench::BenchClient client(makeProtocol(stack, trans));
  calls(client);
  trans->flush();
  return buffer->getBufferAsString();
}

RawClient::RawClient(uint16_t port) : socket_(ctx_) {
  socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  // A reply that never comes fails the test (the read throws) instead of
  // hanging it.
  timeval limit{.tv_sec = 60, .tv_usec = 0};
  setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
}

void RawClient::send(std::string_view bytes) {
  asio::write(socket_, asio::buffer(bytes));
}

std::string RawClient::readUntilClosed() {
  std::string out;
  boost::system::error_code ec;
  asio::read(socket_, asio::dynamic_buffer(out), ec);
  return out;
}

std::string RawClient::readExactly(size_t n) {
  std::string out(n, '\0');
  asio::read(socket_, asio::buffer(out));
  return out;
}

void RawClient::shutdownWrite() {
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send);
}

void RawClient::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void RawClient::reset() {
  boost::system::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

}  // namespace thrum::testing
