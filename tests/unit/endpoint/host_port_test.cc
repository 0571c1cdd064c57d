#include "thrum/endpoint/host_port.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "thrum/endpoint/listener.h"

namespace thrum::endpoint {
namespace {

TEST(ParseHostPort, AcceptsHostPortForms) {
  std::string error;
  auto a = parseHostPort("127.0.0.1:9090", error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9090);
  auto b = parseHostPort("[::1]:0", error);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = parseHostPort(":8080", error);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "");
  auto d = parseHostPort("localhost:65535", error);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 65535);
}

TEST(ParseHostPort, ExplainsWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(parseHostPort("9090", error));
  EXPECT_EQ(error, "expected HOST:PORT");
  EXPECT_FALSE(parseHostPort("host:65536", error));
  EXPECT_EQ(error, "port must be a number from 0 to 65535");
  EXPECT_FALSE(parseHostPort("host:80x", error));
  EXPECT_FALSE(parseHostPort("host:", error));
  EXPECT_FALSE(parseHostPort("::1:80", error));
  EXPECT_EQ(error, "an IPv6 address needs brackets: [ADDR]:PORT");
  EXPECT_FALSE(parseHostPort("[::1]80", error));
}

ListenEndpoint spec(std::string_view text) {
  std::string error;
  auto ep = parseListenSpec(text, error);
  EXPECT_TRUE(ep) << error;
  return ep.value_or(ListenEndpoint{});
}

TEST(Listener, ReportsTheBoundPortAndBindErrors) {
  boost::asio::io_context ctx;
  std::string error;
  boost::system::error_code ec;
  auto first = Listener::open(ctx, spec("127.0.0.1:0"), error);
  ASSERT_TRUE(first) << error;
  uint16_t port = first->port();
  EXPECT_NE(port, 0);
  EXPECT_EQ(first->address(), "127.0.0.1:" + std::to_string(port));
  auto second = Listener::open(
      ctx, spec("tcp:port=" + std::to_string(port) + ":interface=127.0.0.1"), error, &ec);
  EXPECT_FALSE(second);
  EXPECT_EQ(ec, boost::asio::error::address_in_use) << ec.message();
  EXPECT_EQ(error, "tcp:port=" + std::to_string(port) + ":interface=127.0.0.1: bind 127.0.0.1:" +
                       std::to_string(port) + ": Address already in use");
  // 203.0.113.0/24 is documentation space: never an address of this host.
  EXPECT_FALSE(Listener::open(ctx, spec("203.0.113.7:0"), error, &ec));
  EXPECT_EQ(ec, boost::system::errc::address_not_available) << ec.message();
  EXPECT_FALSE(Listener::open(ctx, spec("tcp:port=0:interface=nowhere"), error, &ec));
  EXPECT_EQ(error, "tcp:port=0:interface=nowhere: interface 'nowhere' is not an IP address");
}

TEST(Listener, ListensOnIpv6AndDualStack) {
  boost::asio::io_context ctx;
  std::string error;
  auto v6 = Listener::open(ctx, spec("tcp:port=0:interface=\\:\\:1"), error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->address(), "[::1]:" + std::to_string(v6->port()));
  auto dual = Listener::open(ctx, spec("tcp:port=0:interface=\\:\\:"), error);
  ASSERT_TRUE(dual) << error;
  // Dual stack: an IPv4 client reaches the "::" listener.
  boost::asio::ip::tcp::socket client(ctx);
  client.connect({boost::asio::ip::make_address("127.0.0.1"), dual->port()});
  EXPECT_TRUE(client.is_open());
}

TEST(Listener, RefusesDescriptorsThatAreNotListeningSockets) {
  boost::asio::io_context ctx;
  std::string error;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(Listener::open(ctx, spec("fd:" + std::to_string(fds[0])), error));
  EXPECT_EQ(error, "fd:" + std::to_string(fds[0]) + ": descriptor " + std::to_string(fds[0]) +
                       " is not a socket (Socket operation on non-socket)");
  close(fds[0]);
  close(fds[1]);
  int unbound = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_FALSE(Listener::open(ctx, spec("fd:" + std::to_string(unbound)), error));
  EXPECT_EQ(error, "fd:" + std::to_string(unbound) + ": descriptor " + std::to_string(unbound) +
                       " is not a listening stream socket");
  close(unbound);
}

TEST(Listener, SystemdEnvironmentIsChecked) {
  boost::asio::io_context ctx;
  std::string error;
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  EXPECT_FALSE(Listener::open(ctx, spec("systemd:index=0"), error));
  EXPECT_EQ(error, "systemd: LISTEN_PID/LISTEN_FDS not set (not started by socket activation)");
  setenv("LISTEN_PID", "1", 1);
  setenv("LISTEN_FDS", "1", 1);
  EXPECT_FALSE(Listener::open(ctx, spec("systemd:index=0"), error));
  EXPECT_EQ(error, "systemd: LISTEN_PID=1 is not this process (" + std::to_string(getpid()) + ")");
  setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  setenv("LISTEN_FDNAMES", "web", 1);
  EXPECT_FALSE(Listener::open(ctx, spec("systemd:name=thrift"), error));
  EXPECT_EQ(error, "systemd: no descriptor named 'thrift' in LISTEN_FDNAMES=web");
  EXPECT_FALSE(Listener::open(ctx, spec("systemd:index=1"), error));
  EXPECT_EQ(error, "systemd: index 1 but LISTEN_FDS=1");
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
}

}  // namespace
}  // namespace thrum::endpoint
