#include "thrum/dispatch/worker_pool.h"

#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "tests/support/clients.h"
#include "tests/support/test_handler.h"
#include "tests/support/wait.h"
#include "thrum/transport/message_reader.h"

namespace thrum::dispatch {
namespace {

using testing::Stack;
using transport::Framing;
using transport::Protocol;

constexpr Stack kStack{Framing::kUnframed, Protocol::kBinary};

std::shared_ptr<const ConnectionInfo> connectionInfo() {
  auto info = std::make_shared<ConnectionInfo>();
  info->id = 42;
  info->peer = "10.1.2.3:4567";
  return info;
}

// A Call whose completion lands in a promise.
class PromiseCall final : public Call {
 public:
  PromiseCall(transport::InboundMessage m, std::promise<std::string>& done)
      : Call(Protocol::kBinary, std::move(m.header), std::move(m.storage), m.offset,
             connectionInfo(), 4),
        done_(done) {}
  void complete(std::string reply) override { done_.set_value(std::move(reply)); }
  void abandon() override { done_.set_value("abandoned"); }

 private:
  std::promise<std::string>& done_;
};

std::unique_ptr<Call> makeCall(const std::function<void(bench::BenchClient&)>& send,
                               std::promise<std::string>& done) {
  std::string wire = testing::encodeWith(kStack, send);
  transport::MessageReader reader;
  std::vector<transport::InboundMessage> messages;
  EXPECT_EQ(reader.feed({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, messages),
            transport::WireErrc::kOk);
  EXPECT_EQ(messages.size(), 1u);
  return std::make_unique<PromiseCall>(std::move(messages.at(0)), done);
}

// Decodes an echo reply (after the 4 bytes of headroom PromiseCall asked for).
std::string decodeEcho(const std::string& reply) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  buffer->write(reinterpret_cast<const uint8_t*>(reply.data()) + 4,
                static_cast<uint32_t>(reply.size() - 4));
  bench::BenchClient client(std::make_shared<apache::thrift::protocol::TBinaryProtocol>(buffer));
  std::string out;
  client.recv_echo(out);
  return out;
}

struct PoolFixture : ::testing::Test {
  std::shared_ptr<testing::TestHandler> handler = std::make_shared<testing::TestHandler>();
  Metrics metrics;
  Dispatcher dispatcher{std::make_shared<bench::BenchProcessor>(handler), metrics};
};

TEST_F(PoolFixture, RunsCallAndRepliesWithHeadroom) {
  WorkerPool pool(dispatcher, metrics, {.threads = 2, .queue_capacity = 4});
  pool.start();
  std::promise<std::string> done;
  auto call = makeCall([](auto& c) { c.send_echo("hello"); }, done);
  ASSERT_TRUE(pool.trySubmit(call));
  EXPECT_EQ(call, nullptr);
  std::string reply = done.get_future().get();
  EXPECT_EQ(decodeEcho(reply), "hello");
  EXPECT_EQ(metrics.value("calls.run"), 1);
}

TEST_F(PoolFixture, RefusesWhenQueueIsFullAndLeavesCallWithCaller) {
  WorkerPool pool(dispatcher, metrics, {.threads = 1, .queue_capacity = 1});
  pool.start();
  std::promise<std::string> running, queued, refused;
  auto a = makeCall([](auto& c) { c.send_echo("block"); }, running);
  auto b = makeCall([](auto& c) { c.send_echo("b"); }, queued);
  auto c = makeCall([](auto& client) { client.send_echo("c"); }, refused);
  ASSERT_TRUE(pool.trySubmit(a));
  ASSERT_TRUE(handler->gate.waitForWaiting(1));
  ASSERT_TRUE(pool.trySubmit(b));
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_FALSE(pool.trySubmit(c));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->header().name, "echo");
  handler->gate.release();
  EXPECT_EQ(decodeEcho(running.get_future().get()), "block");
  EXPECT_EQ(decodeEcho(queued.get_future().get()), "b");
}

TEST_F(PoolFixture, StopAbandonsQueuedCallsAndFinishesRunningOnes) {
  WorkerPool pool(dispatcher, metrics, {.threads = 1, .queue_capacity = 8});
  pool.start();
  std::promise<std::string> running, queued;
  auto a = makeCall([](auto& c) { c.send_echo("block"); }, running);
  auto b = makeCall([](auto& c) { c.send_echo("b"); }, queued);
  ASSERT_TRUE(pool.trySubmit(a));
  ASSERT_TRUE(handler->gate.waitForWaiting(1));
  ASSERT_TRUE(pool.trySubmit(b));
  auto stopped = std::async(std::launch::async, [&] { pool.stop(); });
  EXPECT_EQ(queued.get_future().get(), "abandoned");
  handler->gate.release();
  EXPECT_EQ(decodeEcho(running.get_future().get()), "block");
  stopped.get();
  EXPECT_EQ(metrics.value("calls.abandoned"), 1);
  std::promise<std::string> late;
  auto d = makeCall([](auto& c) { c.send_ping(); }, late);
  EXPECT_FALSE(pool.trySubmit(d)) << "a stopped pool takes nothing";
}

TEST_F(PoolFixture, AStopThatReachesItsDeadlineNamesTheCallStillRunning) {
  WorkerPool pool(dispatcher, metrics, {.threads = 1, .queue_capacity = 8});
  pool.start();
  std::promise<std::string> running;
  auto a = makeCall([](auto& c) { c.send_echo("block"); }, running);
  ASSERT_TRUE(pool.trySubmit(a));
  ASSERT_TRUE(handler->gate.waitForWaiting(1));
  EXPECT_FALSE(pool.stop(WorkerPool::Clock::now() + std::chrono::milliseconds(50)))
      << "the handler does not return";
  auto still = pool.running();
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0].method, "echo");
  EXPECT_EQ(still[0].peer, "10.1.2.3:4567");
  EXPECT_GE(still[0].running_for, std::chrono::milliseconds(50));
  handler->gate.release();
  EXPECT_TRUE(pool.stop()) << "and once it has returned, the stop finishes";
  EXPECT_TRUE(pool.running().empty());
}

TEST_F(PoolFixture, HandlerExceptionsBecomeApplicationErrorsAndWorkerLivesOn) {
  WorkerPool pool(dispatcher, metrics, {.threads = 1, .queue_capacity = 8});
  pool.start();
  for (const char* payload : {"throw:std", "throw:int"}) {
    std::promise<std::string> done;
    auto call = makeCall([&](auto& c) { c.send_echo(payload); }, done);
    ASSERT_TRUE(pool.trySubmit(call));
    std::string reply = done.get_future().get();
    EXPECT_THROW(decodeEcho(reply), apache::thrift::TApplicationException) << payload;
  }
  std::promise<std::string> after;
  auto call = makeCall([](auto& c) { c.send_echo("still here"); }, after);
  ASSERT_TRUE(pool.trySubmit(call));
  EXPECT_EQ(decodeEcho(after.get_future().get()), "still here");
  EXPECT_EQ(metrics.value("calls.application_errors"), 2);
  EXPECT_EQ(metrics.value("calls.handler_escapes"), 1);  // only the int got past the processor
}

TEST_F(PoolFixture, HandlerSeesItsCallContext) {
  WorkerPool pool(dispatcher, metrics, {.threads = 1, .queue_capacity = 8});
  pool.start();
  std::promise<std::string> done;
  auto before = CallContext::Clock::now();
  auto call = makeCall([](auto& c) { c.send_ping(); }, done);
  ASSERT_TRUE(pool.trySubmit(call));
  done.get_future().get();
  auto seen = handler->seen();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->peer, "10.1.2.3:4567");
  EXPECT_EQ(seen->connection_id, 42u);
  EXPECT_EQ(seen->method, "ping");
  EXPECT_GE(seen->arrived, before);
  EXPECT_EQ(CallContext::current(), nullptr) << "no context outside a call";
}

TEST_F(PoolFixture, OnewayCallsRunAndReplyNothing) {
  WorkerPool pool(dispatcher, metrics, {.threads = 2, .queue_capacity = 8});
  pool.start();
  std::promise<std::string> done;
  auto call = makeCall([](auto& c) { c.send_fire("x"); }, done);
  ASSERT_TRUE(call->oneway());
  ASSERT_TRUE(pool.trySubmit(call));
  EXPECT_EQ(done.get_future().get(), "");
  EXPECT_EQ(handler->fired.load(), 1);
}

TEST_F(PoolFixture, ManyThreadsSubmittingConcurrently) {
  WorkerPool pool(dispatcher, metrics, {.threads = 4, .queue_capacity = 100000});
  pool.start();
  constexpr int kThreads = 4, kCalls = 500;
  std::vector<std::promise<std::string>> done(kThreads * kCalls);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        auto call = makeCall([&](auto& c) { c.send_echo(std::to_string(t * kCalls + i)); },
                             done[t * kCalls + i]);
        EXPECT_TRUE(pool.trySubmit(call));
      }
    });
  }
  for (auto& s : submitters) s.join();
  for (int i = 0; i < kThreads * kCalls; ++i) {
    EXPECT_EQ(decodeEcho(done[i].get_future().get()), std::to_string(i));
  }
  EXPECT_EQ(metrics.value("calls.run"), kThreads * kCalls);
}

}  // namespace
}  // namespace thrum::dispatch
