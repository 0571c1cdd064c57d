// TcpListener: a listening TCP socket that hands each accepted connection to
// an io_context chosen by the caller (so connections spread over the I/O
// threads while one thread accepts).
//
//   boost::system::error_code ec;
//   auto listener = TcpListener::open(io.context(0), {"127.0.0.1", 0}, ec);
//   if (!listener) fail(ec);               // e.g. "address already in use"
//   listener->start([&]() -> auto& { return io.next(); }, onAccept);
//   uint16_t port = listener->localEndpoint().port();
//
// open() binds synchronously so start-up fails fast with the OS's reason.
// Accept errors never stop the listener: running out of descriptors or
// memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) backs off briefly and retries,
// while established connections keep being served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace thrum::endpoint {

struct TcpAddress {
  std::string host;   // numeric address or name; "" or "*" means all IPv4 interfaces
  uint16_t port = 0;  // 0: the kernel picks one
};

// Parses "HOST:PORT", "[V6ADDR]:PORT" or ":PORT". Returns nullopt and sets
// `error` when the text is not of that form.
std::optional<TcpAddress> parseHostPort(std::string_view text, std::string& error);

class TcpListener : public std::enable_shared_from_this<TcpListener> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using PickContext = std::function<boost::asio::io_context&()>;
  using OnAccept = std::function<void(Socket)>;

  // Resolves, binds and listens. On failure returns null and sets `ec`;
  // `ec.message()` names the OS's reason and the address is in `where`.
  static std::shared_ptr<TcpListener> open(boost::asio::io_context& ctx, const TcpAddress& address,
                                           boost::system::error_code& ec,
                                           std::string* where = nullptr, int backlog = 1024);

  // Starts accepting. Callbacks run on the listener's own io_context thread.
  void start(PickContext pick, OnAccept on_accept);
  // Stops accepting and closes the socket. Thread-safe; returns at once.
  void close();

  boost::asio::ip::tcp::endpoint localEndpoint() const { return local_; }

  TcpListener(boost::asio::io_context& ctx, boost::asio::ip::tcp::acceptor acceptor);

 private:
  void doAccept();
  void onAccept(const boost::system::error_code& ec, Socket socket);

  boost::asio::io_context& ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  boost::asio::ip::tcp::endpoint local_;
  PickContext pick_;
  OnAccept on_accept_;
};

}  // namespace thrum::endpoint
