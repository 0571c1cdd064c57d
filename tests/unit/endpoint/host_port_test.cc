#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "framework/endpoint/tcp_listener.h"

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

TEST(TcpListener, ReportsTheBoundPortAndBindErrors) {
  boost::asio::io_context ctx;
  boost::system::error_code ec;
  auto first = TcpListener::open(ctx, {"127.0.0.1", 0}, ec);
  ASSERT_TRUE(first) << ec.message();
  uint16_t port = first->localEndpoint().port();
  EXPECT_NE(port, 0);
  std::string where;
  auto second = TcpListener::open(ctx, {"127.0.0.1", port}, ec, &where);
  EXPECT_FALSE(second);
  EXPECT_EQ(ec, boost::asio::error::address_in_use) << ec.message();
  EXPECT_EQ(where, "127.0.0.1:" + std::to_string(port));
  auto bad = TcpListener::open(ctx, {"203.0.113.7", 0}, ec);  // not an address of this host
  EXPECT_FALSE(bad);
  EXPECT_EQ(ec, boost::system::errc::address_not_available) << ec.message();
}

}  // namespace
}  // namespace thrum::endpoint
