// Connection timeouts over real sockets: idle, a request that stalls
// mid-frame (slowloris), a client that never reads its replies, maximum
// connection age. Each fires, is counted by its reason, and costs only its
// own connection: other clients keep being served.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <thrift/transport/TTransportException.h>

#include "tests/support/clients.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"

namespace thrum {
namespace {

using namespace std::chrono_literals;
using testing::connectStock;
using testing::RawClient;
using testing::Stack;
using testing::TestServer;
using testing::waitFor;
using transport::Framing;
using transport::Protocol;

const Stack kFramed{Framing::kFramed, Protocol::kBinary};

ServerOptions only(std::chrono::milliseconds ServerOptions::*timeout,
                   std::chrono::milliseconds value) {
  ServerOptions o;
  o.request_timeout = o.write_timeout = 0ms;
  o.*timeout = value;
  return o;
}

TEST(Timeouts, AnIdleConnectionIsClosedAndABusyOneIsNot) {
  TestServer server(only(&ServerOptions::idle_timeout, 300ms));
  RawClient idle(server.port());
  idle.send(testing::encodeWith(kFramed, [](auto& c) { c.send_ping(); }));
  auto busy = connectStock(server.port(), kFramed);
  // Calls every 50 ms for longer than the timeout: never idle that long.
  for (int i = 0; i < 16; ++i) {
    busy.bench->ping();
    std::this_thread::sleep_for(50ms);
  }
  std::string got = idle.readUntilClosed();  // the ping's reply, then the close
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(server.metric("connections.closed.idle_timeout"), 1);
  busy.bench->ping();
}

TEST(Timeouts, ACallInFlightIsNotIdleness) {
  TestServer server(only(&ServerOptions::idle_timeout, 150ms));
  auto client = connectStock(server.port(), kFramed);
  std::string out;
  client.bench->echo(out, "sleep:600:slow");  // four timeouts long
  EXPECT_EQ(out, "sleep:600:slow");
  EXPECT_EQ(server.metric("connections.closed.idle_timeout"), 0);
}

TEST(Timeouts, AStalledRequestIsClosedWhileOthersAreServed) {
  TestServer server(only(&ServerOptions::request_timeout, 300ms));
  std::string wire = testing::encodeWith(kFramed, [](auto& c) { c.send_echo("half of me"); });
  RawClient slow(server.port());
  slow.send(std::string_view(wire).substr(0, wire.size() / 2));  // then nothing
  auto other = connectStock(server.port(), kFramed);
  for (int i = 0; i < 10; ++i) other.bench->ping();
  EXPECT_EQ(slow.readUntilClosed(), "");
  EXPECT_EQ(server.metric("connections.closed.request_timeout"), 1);
  EXPECT_EQ(server.metric("calls.received"), 10) << "the half request never ran";
  other.bench->ping();
}

TEST(Timeouts, AQuietConnectionWithNothingBegunIsNotAStalledRequest) {
  TestServer server(only(&ServerOptions::request_timeout, 150ms));
  auto client = connectStock(server.port(), kFramed);
  std::this_thread::sleep_for(600ms);
  client.bench->ping();  // idle connections are idle_timeout's business
  EXPECT_EQ(server.metric("connections.closed.request_timeout"), 0);
}

TEST(Timeouts, AClientThatNeverReadsIsClosedByTheWriteTimeout) {
  TestServer server(only(&ServerOptions::write_timeout, 300ms));
  // 32 echoes of 1 MiB: far more reply bytes than the socket buffers hold.
  std::string wire = testing::encodeWith(kFramed, [](auto& c) {
    for (int i = 0; i < 32; ++i) c.send_echo(std::string(1 << 20, 'r'));
  });
  RawClient deaf(server.port());
  std::thread sender([&] {
    try {
      deaf.send(wire);
    } catch (const std::exception&) {
      // the server closed first: expected
    }
  });
  ASSERT_TRUE(waitFor([&] { return server.metric("connections.closed.write_timeout") == 1; }));
  auto other = connectStock(server.port(), kFramed);
  other.bench->ping();
  deaf.close();
  sender.join();
  EXPECT_GT(server.metric("replies.dropped") + server.metric("replies.written"), 0);
}

TEST(Timeouts, AnOldConnectionAnswersWhatItHasThenCloses) {
  ServerOptions o = only(&ServerOptions::max_age, 200ms);
  o.age_grace = 10s;
  TestServer server(o);
  RawClient raw(server.port());
  // In flight when the connection comes of age: still answered.
  raw.send(testing::encodeWith(kFramed, [](auto& c) { c.send_echo("sleep:500:aged"); }));
  std::string got = raw.readUntilClosed();
  EXPECT_NE(got.find("sleep:500:aged"), std::string::npos);
  EXPECT_EQ(server.metric("connections.closed.max_age"), 1);

  auto client = connectStock(server.port(), kFramed);
  client.bench->ping();
  std::this_thread::sleep_for(600ms);  // past its age, nothing in flight: closed
  EXPECT_THROW(client.bench->ping(), apache::thrift::transport::TTransportException);
  EXPECT_EQ(server.metric("connections.closed.max_age"), 2);
}

TEST(Timeouts, PastTheGraceAConnectionIsClosedWhateverItHasInFlight) {
  ServerOptions o = only(&ServerOptions::max_age, 100ms);
  o.age_grace = 200ms;
  TestServer server(o);
  RawClient raw(server.port());
  raw.send(testing::encodeWith(kFramed, [](auto& c) { c.send_echo("block"); }));
  ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
  EXPECT_EQ(raw.readUntilClosed(), "");
  EXPECT_EQ(server.metric("connections.closed.max_age_grace"), 1);
  server.handler->gate.release();
  EXPECT_TRUE(waitFor([&] { return server.metric("replies.dropped") == 1; }));
}

}  // namespace
}  // namespace thrum
