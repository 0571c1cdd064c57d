#include "framework/endpoint/tcp_listener.h"

#include <charconv>
#include <chrono>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace thrum::endpoint {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<TcpAddress> parseHostPort(std::string_view text, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected HOST:PORT";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "an IPv6 address needs brackets: [ADDR]:PORT";
      return std::nullopt;
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    error = "port must be a number from 0 to 65535";
    return std::nullopt;
  }
  return TcpAddress{std::string(host), static_cast<uint16_t>(value)};
}

TcpListener::TcpListener(asio::io_context& ctx, tcp::acceptor acceptor)
    : ctx_(ctx), acceptor_(std::move(acceptor)), backoff_(ctx) {
  local_ = acceptor_.local_endpoint();
}

std::shared_ptr<TcpListener> TcpListener::open(asio::io_context& ctx, const TcpAddress& address,
                                               boost::system::error_code& ec, std::string* where,
                                               int backlog) {
  std::string host = address.host.empty() || address.host == "*" ? "0.0.0.0" : address.host;
  if (where) *where = host + ":" + std::to_string(address.port);
  tcp::endpoint endpoint;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, address.port);
  } else {
    tcp::resolver resolver(ctx);
    auto results = resolver.resolve(host, std::to_string(address.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) return nullptr;
    endpoint = results.begin()->endpoint();
  }
  tcp::acceptor acceptor(ctx);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return nullptr;
  return std::make_shared<TcpListener>(ctx, std::move(acceptor));
}

void TcpListener::start(PickContext pick, OnAccept on_accept) {
  pick_ = std::move(pick);
  on_accept_ = std::move(on_accept);
  asio::post(ctx_, [self = shared_from_this()] { self->doAccept(); });
}

void TcpListener::close() {
  asio::post(ctx_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->backoff_.cancel();
    self->acceptor_.close(ignored);
  });
}

void TcpListener::doAccept() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(
      pick_(), [self = shared_from_this()](const boost::system::error_code& ec, Socket socket) {
        self->onAccept(ec, std::move(socket));
      });
}

void TcpListener::onAccept(const boost::system::error_code& ec, Socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    on_accept_(std::move(socket));
    doAccept();
    return;
  }
  if (ec == asio::error::no_descriptors ||
      ec == boost::system::errc::too_many_files_open_in_system ||
      ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
    // Out of a resource the next accept would need too. Pause instead of
    // spinning; established connections keep being served meanwhile.
    spdlog::warn("accept on {}: {}; pausing 100 ms", local_.port(), ec.message());
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& wait_ec) {
      if (!wait_ec) self->doAccept();
    });
    return;
  }
  // ECONNABORTED and friends concern one peer that already left.
  spdlog::debug("accept on {}: {}", local_.port(), ec.message());
  doAccept();
}

}  // namespace thrum::endpoint
