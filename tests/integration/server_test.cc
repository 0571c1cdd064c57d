// The server over real loopback sockets, with the stock Thrift C++ client in
// each of its four stacks and with raw bytes no stock client would send.
#include <csignal>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/TApplicationException.h>
#include <thrift/transport/TTransportException.h>

#include "tests/support/clients.h"
#include "tests/support/status.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"
#include "thrum/server/service.h"
#include "thrum/transport/overload.h"

namespace thrum {
namespace {

using apache::thrift::TApplicationException;
using apache::thrift::transport::TTransportException;
using testing::connectStock;
using testing::RawClient;
using testing::Stack;
using testing::TestServer;
using testing::waitFor;
using transport::Framing;
using transport::Protocol;

class StockClientTest : public ::testing::TestWithParam<Stack> {};

TEST_P(StockClientTest, EveryMethodRoundTrips) {
  TestServer server;
  auto client = connectStock(server.port(), GetParam());
  client.bench->ping();
  std::string out;
  client.bench->echo(out, "hello");
  EXPECT_EQ(out, "hello");
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i);
  client.bench->echo(out, big);
  EXPECT_EQ(out, big);
  client.bench->echo(out, "");
  EXPECT_EQ(out, "");
  EXPECT_GT(client.bench->work(200), 0);
  client.bench->fire("one way");
  ASSERT_TRUE(waitFor([&] { return server.handler->fired.load() == 1; }));
  client.bench->ping();  // the oneway call left the stream in step
  EXPECT_EQ(server.metric("calls.received"), 7);
  // Counted when the write completes, which may be just after the client read it.
  EXPECT_TRUE(waitFor([&] { return server.metric("replies.written") == 6; }));
}

TEST_P(StockClientTest, HandlerSeesPeerAndConnection) {
  TestServer server;
  auto a = connectStock(server.port(), GetParam());
  auto b = connectStock(server.port(), GetParam());
  a.bench->ping();
  auto seen_a = server.handler->seen();
  b.bench->ping();
  auto seen_b = server.handler->seen();
  ASSERT_TRUE(seen_a && seen_b);
  EXPECT_EQ(seen_a->peer, "127.0.0.1:" + std::to_string(a.localPort()));
  EXPECT_EQ(seen_b->peer, "127.0.0.1:" + std::to_string(b.localPort()));
  EXPECT_NE(seen_a->connection_id, seen_b->connection_id);
  EXPECT_EQ(seen_a->method, "ping");
}

TEST_P(StockClientTest, PipelinedRepliesComeBackInRequestOrder) {
  TestServer server({.workers = 4});
  auto client = connectStock(server.port(), GetParam());
  // Earlier requests take longer, so workers finish them out of order.
  std::vector<std::string> sent = {"sleep:60:a", "sleep:0:b", "sleep:30:c", "d", "sleep:10:e"};
  for (const auto& s : sent) client.bench->send_echo(s);
  for (const auto& s : sent) {
    std::string out;
    client.bench->recv_echo(out);
    EXPECT_EQ(out, s);
  }
}

TEST_P(StockClientTest, OverloadIsAnsweredWithAnExceptionAndConnectionSurvives) {
  TestServer server({.workers = 1, .queue = 1});
  auto running = std::async(std::launch::async, [&] {
    auto c = connectStock(server.port(), GetParam());
    std::string out;
    c.bench->echo(out, "block");
    return out;
  });
  ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
  auto queued = std::async(std::launch::async, [&] {
    auto c = connectStock(server.port(), GetParam());
    std::string out;
    c.bench->echo(out, "queued");
    return out;
  });
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 1; }));

  auto client = connectStock(server.port(), GetParam());
  std::string out;
  try {
    client.bench->echo(out, "refused");
    FAIL() << "expected the overload exception";
  } catch (const TApplicationException& e) {
    EXPECT_EQ(e.getType(), TApplicationException::INTERNAL_ERROR);
    auto overload = transport::parseOverload(e.what());
    ASSERT_TRUE(overload) << e.what();
    EXPECT_EQ(overload->reason, "queue_full");
    EXPECT_EQ(overload->retry_after, ServerOptions{}.retry_after);
    EXPECT_NE(std::string(e.what()).find("lane default has 1 calls waiting"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(server.metric("calls.rejected.queue_full"), 1);

  server.handler->gate.release();
  EXPECT_EQ(running.get(), "block");
  EXPECT_EQ(queued.get(), "queued");
  client.bench->echo(out, "after");  // same connection, still open
  EXPECT_EQ(out, "after");
}

TEST_P(StockClientTest, UndeclaredHandlerExceptionsReachTheClientAndWorkerLivesOn) {
  TestServer server({.workers = 1});
  auto client = connectStock(server.port(), GetParam());
  std::string out;
  try {
    client.bench->echo(out, "throw:std");
    FAIL();
  } catch (const TApplicationException& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  try {
    client.bench->echo(out, "throw:int");
    FAIL();
  } catch (const TApplicationException& e) {
    EXPECT_NE(std::string(e.what()).find("thrum: call failed"), std::string::npos) << e.what();
  }
  client.bench->echo(out, "fine");
  EXPECT_EQ(out, "fine");
  EXPECT_EQ(server.metric("calls.application_errors"), 2);
}

TEST_P(StockClientTest, MessageOverTheLimitClosesOnlyThatConnection) {
  TestServer server({.max_message_bytes = 64 * 1024});
  auto other = connectStock(server.port(), GetParam());
  auto client = connectStock(server.port(), GetParam());
  std::string out;
  EXPECT_THROW(client.bench->echo(out, std::string(100 * 1024, 'x')), TTransportException);
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.too_large") == 1; }));
  other.bench->echo(out, "unaffected");
  EXPECT_EQ(out, "unaffected");
}

INSTANTIATE_TEST_SUITE_P(AllStockStacks, StockClientTest, ::testing::ValuesIn(testing::kAllStacks),
                         [](const auto& test) { return testing::stackName(test.param); });

TEST(Server, TwoHundredConcurrentClients) {
  TestServer server({.io_threads = 2, .workers = 4});
  constexpr int kClients = 200, kCalls = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto c = connectStock(server.port(), testing::kAllStacks[i % 4]);
      for (int k = 0; k < kCalls; ++k) {
        std::string payload = std::to_string(i) + "/" + std::to_string(k);
        std::string out;
        c.bench->echo(out, payload);
        if (out == payload) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kCalls);
  EXPECT_EQ(server.metric("connections.accepted"), kClients);
}

TEST(Server, GarbageClosesOnlyThatConnectionWithAReason) {
  TestServer server;
  auto good = connectStock(server.port(), {Framing::kFramed, Protocol::kBinary});
  struct Case {
    std::string bytes;
    const char* counter;
  } cases[] = {
      {"this is not thrift", "connections.closed.not_thrift"},
      {std::string("\x16\x03\x01\x00\xa5\x01", 6), "connections.closed.looks_like_tls"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "connections.closed.looks_like_http"},
      {std::string("\x7f\xff\xff\xff\x80\x01", 6), "connections.closed.too_large"},
      {std::string("\x80\x01\x00\x07\x00\x00\x00\x01x\x00\x00\x00\x01\x00", 14),
       "connections.closed.unknown_message_type"},
  };
  for (const auto& c : cases) {
    RawClient raw(server.port());
    raw.send(c.bytes);
    EXPECT_EQ(raw.readUntilClosed(), "") << c.counter;  // closed without a word
    EXPECT_TRUE(waitFor([&] { return server.metric(c.counter) == 1; })) << c.counter;
    good.bench->ping();
  }
}

TEST(Server, TruncatedMessageThenEofIsCountedAsTruncated) {
  TestServer server;
  std::string wire = testing::encodeWith({Framing::kUnframed, Protocol::kCompact},
                                         [](auto& c) { c.send_echo("cut short"); });
  RawClient raw(server.port());
  raw.send(std::string_view(wire).substr(0, wire.size() - 3));
  raw.shutdownWrite();
  EXPECT_EQ(raw.readUntilClosed(), "");
  EXPECT_TRUE(waitFor([&] { return server.metric("connections.closed.truncated") == 1; }));
  EXPECT_EQ(server.metric("calls.received"), 0);
}

TEST(Server, ValidCallsBeforeGarbageAreAnswered) {
  TestServer server;
  const Stack stack{Framing::kFramed, Protocol::kBinary};
  std::string wire = testing::encodeWith(stack, [](auto& c) { c.send_echo("first"); });
  RawClient raw(server.port());
  raw.send(wire + "garbage!");
  std::string reply = raw.readUntilClosed();
  EXPECT_NE(reply.find("first"), std::string::npos);
  EXPECT_TRUE(waitFor([&] { return server.metric("connections.closed.too_large") == 1; }));
}

TEST(Server, ClientVanishingMidCallDropsTheReplyAndCountsIt) {
  TestServer server({.workers = 1});
  const Stack stack{Framing::kFramed, Protocol::kBinary};
  {
    // One call running, one queued behind it; then the client is gone.
    RawClient raw(server.port());
    raw.send(testing::encodeWith(stack, [](auto& c) {
      c.send_echo("block");
      c.send_echo("queued");
    }));
    ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
    ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 1; }));
    raw.reset();
  }
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.peer_reset") == 1; }));
  server.handler->gate.release();
  EXPECT_TRUE(waitFor([&] { return server.metric("replies.dropped") == 2; }));
  EXPECT_EQ(server.server->openConnections(), 0u);
  auto client = connectStock(server.port(), stack);
  client.bench->ping();
}

TEST(Server, StopDrainsInFlightCallsBeforeClosing) {
  TestServer server({.workers = 4});
  const Stack stack{Framing::kFramed, Protocol::kCompact};
  std::vector<std::future<std::string>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      auto c = connectStock(server.port(), stack);
      std::string out;
      c.bench->echo(out, "block");
      return out + std::to_string(i);
    }));
  }
  auto idle = connectStock(server.port(), stack);
  ASSERT_TRUE(server.handler->gate.waitForWaiting(3));
  auto stopped = std::async(std::launch::async, [&] { return server.server->stop(); });
  // The idle connection is closed at once; busy ones wait for their replies.
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.shutdown") >= 1; }));
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  server.handler->gate.release();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(calls[i].get(), "block" + std::to_string(i));
  EXPECT_TRUE(testing::succeeded(stopped.get()));
  EXPECT_EQ(server.metric("replies.dropped"), 0);
  EXPECT_EQ(server.metric("connections.closed.shutdown"), 4);
  EXPECT_THROW(connectStock(server.port(), stack), TTransportException);
}

// With no timeout set no sweep ever runs, but stop() still reaches every
// connection on every I/O thread through their lists.
TEST(Server, StopReachesEveryConnectionWithEveryTimeoutOff) {
  TestServer server({.io_threads = 2,
                     .workers = 2,
                     .request_timeout = std::chrono::milliseconds(0),
                     .write_timeout = std::chrono::milliseconds(0)});
  const Stack stack{Framing::kFramed, Protocol::kBinary};
  std::vector<testing::StockClient> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(connectStock(server.port(), stack));
    idle.back().bench->ping();
  }
  RawClient busy(server.port());
  busy.send(testing::encodeWith(stack, [](auto& c) { c.send_echo("block"); }));
  ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
  EXPECT_EQ(server.server->openConnections(), 7u);

  auto stopped = std::async(std::launch::async, [&] { return server.server->stop(); });
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.shutdown") == 6; }));
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  server.handler->gate.release();
  EXPECT_TRUE(testing::succeeded(stopped.get()));
  EXPECT_EQ(server.metric("connections.closed.shutdown"), 7);
  EXPECT_EQ(server.metric("replies.written"), 7);
  EXPECT_EQ(server.server->openConnections(), 0u);
}

TEST(Server, DrainTimeoutClosesWhatIsStillBusyAndStopStillFinishes) {
  TestServer server({.workers = 1, .drain_timeout = std::chrono::milliseconds(50)});
  const Stack stack{Framing::kFramed, Protocol::kBinary};
  RawClient running(server.port()), queued(server.port());
  running.send(testing::encodeWith(stack, [](auto& c) { c.send_echo("block"); }));
  ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
  queued.send(testing::encodeWith(stack, [](auto& c) { c.send_echo("queued"); }));
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 1; }));

  auto stopped = std::async(std::launch::async, [&] { (void)server.server->stop(); });
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.drain_timeout") == 2; }));
  EXPECT_EQ(running.readUntilClosed(), "");
  // stop() waits for the running handler. The queued call is abandoned, or
  // runs if the released worker takes it before the pool stops: either way
  // its connection is gone and both replies are dropped and counted.
  server.handler->gate.release();
  stopped.get();
  EXPECT_EQ(server.metric("calls.abandoned") + server.metric("calls.run"), 2);
  EXPECT_EQ(server.metric("replies.dropped"), 2);
}

TEST(Server, MultiplexedServicesShareOneServer) {
  auto first = std::make_shared<testing::TestHandler>("first:");
  auto second = std::make_shared<testing::TestHandler>("second:");
  TestServer server({}, multiplex({{"First", std::make_shared<bench::BenchProcessor>(first)},
                                   {"Second", std::make_shared<bench::BenchProcessor>(second)}}));
  for (Stack stack : {Stack{Framing::kFramed, Protocol::kBinary},
                      Stack{Framing::kUnframed, Protocol::kCompact}}) {
    auto a = connectStock(server.port(), stack, "First");
    auto b = connectStock(server.port(), stack, "Second");
    std::string out;
    a.bench->echo(out, "x");
    EXPECT_EQ(out, "first:x");
    b.bench->echo(out, "y");
    EXPECT_EQ(out, "second:y");
    b.bench->ping();
    EXPECT_EQ(second->seen()->method, "Second:ping");
  }
}

TEST(Server, ShutdownSignalRaisedBeforeTheWaitIsNotLost) {
  TestServer server;
  holdShutdownSignals();
  // Thread-directed, so it stays pending on this thread, which blocks it.
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(runUntilSignal(*server.server), SIGTERM);
  EXPECT_THROW(connectStock(server.port(), testing::kAllStacks[0]), TTransportException)
      << "stopped: no longer accepting";
}

TEST(Server, ListenReportsBindErrors) {
  TestServer running;
  Server second(std::make_shared<bench::BenchProcessor>(running.handler));
  Status listening = second.listen("127.0.0.1:" + std::to_string(running.port()));
  EXPECT_EQ(listening.code(), std::errc::address_in_use);
  EXPECT_EQ(listening.message(), "127.0.0.1:" + std::to_string(running.port()) +
                                     ": bind 127.0.0.1:" + std::to_string(running.port()) +
                                     ": Address already in use");
}

}  // namespace
}  // namespace thrum
