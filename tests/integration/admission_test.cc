// Admission control over real sockets: queue timeouts and the deadline a
// handler sees, lanes that keep cheap calls away from busy workers,
// connection limits, and the cap on reply bytes a connection may leave
// unread. Every refusal is the typed overload answer (transport/overload.h),
// counted by its reason, and costs nobody else their service.
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <thrift/TApplicationException.h>
#include <thrift/transport/TTransportException.h>

#include "tests/support/clients.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"
#include "thrum/transport/overload.h"

namespace thrum {
namespace {

using namespace std::chrono_literals;
using apache::thrift::TApplicationException;
using apache::thrift::transport::TTransportException;
using testing::connectStock;
using testing::RawClient;
using testing::Stack;
using testing::TestServer;
using testing::waitFor;
using transport::Framing;
using transport::Protocol;

const Stack kFramed{Framing::kFramed, Protocol::kBinary};

// The overload reason an echo call is refused with, or "" if it succeeds.
std::string refusalOf(testing::StockClient& client, const std::string& payload = "x") {
  try {
    std::string out;
    client.bench->echo(out, payload);
    return "";
  } catch (const TApplicationException& e) {
    EXPECT_EQ(e.getType(), TApplicationException::INTERNAL_ERROR);
    auto overload = transport::parseOverload(e.what());
    EXPECT_TRUE(overload) << e.what();
    return overload ? overload->reason : e.what();
  }
}

// Holds the server's only default-lane worker in echo("block") until released.
std::future<std::string> occupyWorker(TestServer& server) {
  auto busy = std::async(std::launch::async, [&server] {
    auto c = connectStock(server.port(), kFramed);
    std::string out;
    c.bench->echo(out, "block");
    return out;
  });
  EXPECT_TRUE(server.handler->gate.waitForWaiting(1));
  return busy;
}

// Reads `n` framed binary replies; true if every one is a REPLY (none an exception).
bool allReplies(RawClient& raw, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    std::string header = raw.readExactly(4);
    std::string body =
        raw.readExactly(transport::loadBe32(reinterpret_cast<const uint8_t*>(header.data())));
    if (body.size() < 4 || body[3] != 2) return false;  // strict binary: type in byte 3
  }
  return true;
}

TEST(Admission, CallsPastTheirQueueDeadlineMakeRoomForFreshOnes) {
  // One worker, held; a queue of four, filled by echoes that may wait
  // 100 ms. Once they are past it, four pings that may wait 30 s come.
  TestServer server({.workers = 1,
                     .queue = 4,
                     .routes = {{.pattern = "echo", .queue_timeout = 100ms}},
                     .queue_timeout = 30s});
  auto busy = occupyWorker(server);
  RawClient stale(server.port());
  stale.send(testing::encodeWith(kFramed, [](auto& c) {
    for (int i = 0; i < 4; ++i) c.send_echo("stale");
  }));
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 4; }));
  std::this_thread::sleep_for(150ms);  // the echoes' deadline passes
  RawClient fresh(server.port());
  fresh.send(testing::encodeWith(kFramed, [](auto& c) {
    for (int i = 0; i < 4; ++i) c.send_ping();
  }));
  // The expired echoes are answered at once, to make room; none ran.
  for (int i = 0; i < 4; ++i) {
    std::string header = stale.readExactly(4);
    std::string body =
        stale.readExactly(transport::loadBe32(reinterpret_cast<const uint8_t*>(header.data())));
    EXPECT_NE(body.find("thrum overloaded: queue_timeout"), std::string::npos) << i;
  }
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 4; }));
  EXPECT_EQ(server.metric("calls.rejected.queue_full"), 0) << "no fresh call turned away";
  server.handler->gate.release();
  EXPECT_TRUE(allReplies(fresh, 4)) << "every fresh ping ran";
  EXPECT_EQ(busy.get(), "block");
  EXPECT_EQ(server.metric("calls.rejected.queue_timeout"), 4);
  EXPECT_EQ(server.metric("calls.run"), 5);  // "block" and the pings
}

TEST(Admission, ACallTimeoutFiresBehindACallThatHasNone) {
  // echo has no call timeout and hangs; work, pipelined behind it on the
  // same connection, must be answered within 200 ms.
  TestServer server({.workers = 2, .routes = {{.pattern = "work", .call_timeout = 200ms}}});
  auto c = connectStock(server.port(), kFramed);
  c.bench->send_echo("block");
  c.bench->send_work(900000);
  ASSERT_TRUE(server.handler->gate.waitForWaiting(1));
  EXPECT_TRUE(waitFor([&] { return server.metric("calls.timed_out") == 1; }))
      << "work's slot is answered though the one before it has no deadline";
  server.handler->gate.release();
  std::string out;
  c.bench->recv_echo(out);
  EXPECT_EQ(out, "block");
  try {
    c.bench->recv_work();
    ADD_FAILURE() << "work was not answered call_timeout";
  } catch (const TApplicationException& e) {
    EXPECT_EQ(std::string(e.what()), "thrum call_timeout: work was not answered within 200 ms");
  }
  EXPECT_TRUE(waitFor([&] { return server.metric("replies.late") == 1; }));
}

TEST(Admission, ACallPastItsQueueTimeoutIsAnsweredWithoutRunning) {
  TestServer server({.workers = 1, .queue_timeout = 200ms});
  auto busy = occupyWorker(server);
  auto late = std::async(std::launch::async, [&] {
    auto c = connectStock(server.port(), kFramed);
    std::string reason = refusalOf(c, "late");
    std::string out;
    c.bench->echo(out, "again");  // the connection stays
    return reason + "/" + out;
  });
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 1; }));
  std::this_thread::sleep_for(300ms);
  server.handler->gate.release();
  EXPECT_EQ(busy.get(), "block");
  EXPECT_EQ(late.get(), "queue_timeout/again");
  EXPECT_EQ(server.metric("calls.rejected.queue_timeout"), 1);
  EXPECT_EQ(server.metric("calls.run"), 2);  // "block" and "again"; "late" never ran
}

TEST(Admission, TheHandlerSeesItsDeadlineAndRoutesSetItPerMethod) {
  TestServer server({.routes = {{.pattern = "echo", .queue_timeout = 5s}}, .queue_timeout = 1s});
  auto client = connectStock(server.port(), kFramed);
  std::string out;
  client.bench->echo(out, "remaining");
  int64_t left = std::stoll(out);
  EXPECT_GT(left, 1000) << "the route's 5 s, not the server's 1 s";
  EXPECT_LE(left, 5000);

  TestServer unlimited;
  auto other = connectStock(unlimited.port(), kFramed);
  other.bench->echo(out, "remaining");
  EXPECT_EQ(out, "none");
}

TEST(Admission, CheapCallsInTheirOwnLaneDoNotWaitBehindBusyWorkers) {
  TestServer server({.workers = 1,
                     .queue = 1,
                     .lanes = {{.name = "cheap", .workers = 1, .queue = 16}},
                     .routes = {{.pattern = "ping", .lane = "cheap"}}});
  auto busy = occupyWorker(server);
  auto queued = std::async(std::launch::async, [&] {
    auto c = connectStock(server.port(), kFramed);
    std::string out;
    c.bench->echo(out, "queued");
    return out;
  });
  ASSERT_TRUE(waitFor([&] { return server.metric("lane.default.queued") == 1; }));
  // The default lane is full: echo is refused, ping is served by its lane.
  auto client = connectStock(server.port(), kFramed);
  EXPECT_EQ(refusalOf(client), "queue_full");
  for (int i = 0; i < 20; ++i) client.bench->ping();
  EXPECT_EQ(server.metric("calls.rejected.queue_full"), 1);
  server.handler->gate.release();
  EXPECT_EQ(busy.get(), "block");
  EXPECT_EQ(queued.get(), "queued");
}

TEST(Admission, ConnectionsOverTheLimitAreRefusedWithTheLimitNamed) {
  TestServer server({.max_connections = 2});
  auto a = connectStock(server.port(), kFramed);
  auto b = connectStock(server.port(), kFramed);
  a.bench->ping();
  b.bench->ping();
  auto c = connectStock(server.port(), kFramed);
  EXPECT_EQ(refusalOf(c), "max_connections");
  EXPECT_THROW(c.bench->ping(), TTransportException);  // then closed
  EXPECT_TRUE(waitFor([&] { return server.metric("connections.closed.max_connections") == 1; }));
  a.bench->ping();  // the admitted ones are untouched
  b.bench->ping();

  a.close();  // a place comes free
  ASSERT_TRUE(waitFor([&] { return server.server->openConnections() == 1; }));
  auto d = connectStock(server.port(), kFramed);
  d.bench->ping();
}

TEST(Admission, OnePeerAddressCannotTakeMoreThanItsShare) {
  TestServer server({.max_connections_per_address = 3});
  std::vector<testing::StockClient> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connectStock(server.port(), kFramed));
    held.back().bench->ping();
  }
  auto extra = connectStock(server.port(), kFramed);
  EXPECT_EQ(refusalOf(extra), "max_connections_per_address");
  EXPECT_TRUE(waitFor(
      [&] { return server.metric("connections.closed.max_connections_per_address") == 1; }));
  for (auto& h : held) h.bench->ping();
}

TEST(Admission, ARefusedConnectionThatSaysNothingIsClosedAtTheHandshakeTimeout) {
  TestServer server({.max_connections = 1, .handshake_timeout = 200ms});
  auto admitted = connectStock(server.port(), kFramed);
  admitted.bench->ping();
  RawClient silent(server.port());
  EXPECT_EQ(silent.readUntilClosed(), "");
  EXPECT_EQ(server.metric("connections.closed.max_connections"), 1);
  admitted.bench->ping();
}

// "#I#", which finds call I's payload in its reply. Appended piece by piece:
// GCC 12 at -O3 reports a false -Wrestrict for "#" + std::to_string(i).
std::string marker(int i) {
  std::string m = "#";
  m += std::to_string(i);
  m += '#';
  return m;
}

TEST(Admission, AClientThatDoesNotReadStopsBeingReadAndLosesNothing) {
  ServerOptions o;
  o.write_timeout = 0ms;  // this client reads late, not never
  o.max_in_flight_per_connection = 8;
  o.max_reply_bytes_per_connection = 1 << 20;
  TestServer server(o);
  constexpr int kCalls = 600;  // 64 KiB each way: ~38 MiB of replies
  std::string wire = testing::encodeWith(kFramed, [](auto& c) {
    for (int i = 0; i < kCalls; ++i) {
      std::string payload = marker(i);
      c.send_echo(payload + std::string(64 * 1024 - payload.size(), 'r'));
    }
  });
  RawClient slow(server.port());
  std::thread sender([&] { slow.send(wire); });
  // The server stops reading once a cap is reached: calls run stop rising
  // far short of all of them (what the kernel buffers, plus the cap).
  int64_t run = -1;
  for (int quiet = 0; quiet < 5;) {
    std::this_thread::sleep_for(100ms);
    int64_t now = server.metric("calls.run");
    quiet = now == run ? quiet + 1 : 0;
    run = now;
  }
  EXPECT_LT(run, kCalls / 2);
  auto other = connectStock(server.port(), kFramed);
  other.bench->ping();

  // Reading now gets every reply, in order.
  for (int i = 0; i < kCalls; ++i) {
    std::string header = slow.readExactly(4);
    std::string reply = slow.readExactly(transport::loadBe32(header.data()));
    ASSERT_NE(reply.find(marker(i)), std::string::npos) << "reply " << i;
  }
  sender.join();
  EXPECT_TRUE(waitFor([&] { return server.metric("replies.written") == kCalls + 1; }));
  EXPECT_EQ(server.metric("replies.dropped"), 0);
}

}  // namespace
}  // namespace thrum
