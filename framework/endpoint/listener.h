// Listener: a listening stream socket, opened from a ListenEndpoint (TCP,
// unix, an inherited descriptor or one passed by systemd), that hands each
// accepted connection to an io_context chosen by the caller, so connections
// spread over the I/O threads while one thread accepts.
//
//   std::string error;
//   auto listener = Listener::open(io.context(0), *parseListenEndpoint("tcp:0", error), error);
//   if (!listener) fail(error);    // "tcp:0: bind 0.0.0.0:0: Address already in use"
//   listener->start([&]() -> auto& { return io.next(); }, onAccept);
//
// open() works synchronously so start-up fails fast with the OS's reason.
// A unix socket file left by a dead process is replaced; one a live process
// still accepts on is not. Accept errors never stop the listener: running out
// of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) backs off
// briefly and retries while established connections keep being served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "thrum/endpoint/endpoint_string.h"
#include "thrum/endpoint/socket.h"

namespace thrum::endpoint {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using PickContext = std::function<boost::asio::io_context&()>;
  using OnAccept = std::function<void(StreamSocket)>;
  // Told each time accepting pauses for lack of descriptors or memory.
  using OnPause = std::function<void(const boost::system::error_code&)>;

  // Opens, binds and listens (or adopts an inherited descriptor). On failure
  // returns null, sets `error` to a sentence naming the endpoint and the
  // reason, and `ec` to the OS error where there is one.
  static std::shared_ptr<Listener> open(boost::asio::io_context& ctx,
                                        const ListenEndpoint& endpoint, std::string& error,
                                        boost::system::error_code* ec = nullptr);

  // Starts accepting. Callbacks run on the listener's own io_context thread.
  void start(PickContext pick, OnAccept on_accept, OnPause on_pause = {});
  // Stops accepting and closes the socket (removing a unix socket file it
  // created). Thread-safe; returns at once.
  void close();

  const ListenEndpoint& endpoint() const { return endpoint_; }
  // Where it listens: "127.0.0.1:PORT", "[::1]:PORT", "unix:/path", "unix:@name".
  const std::string& address() const { return address_; }
  // The bound TCP port; 0 for other families.
  uint16_t port() const { return port_; }

  Listener(boost::asio::io_context& ctx, StreamAcceptor acceptor, ListenEndpoint endpoint,
           std::string unlink_on_close);
  ~Listener();

 private:
  void doAccept();
  void onAccept(const boost::system::error_code& ec, StreamSocket socket);

  boost::asio::io_context& ctx_;
  StreamAcceptor acceptor_;
  boost::asio::steady_timer backoff_;
  ListenEndpoint endpoint_;
  std::string unlink_on_close_;
  std::string address_;
  uint16_t port_ = 0;
  PickContext pick_;
  OnAccept on_accept_;
  OnPause on_pause_;
};

}  // namespace thrum::endpoint
