// Thousands of SASL-authenticated connections on one server, while password
// checks block: the negotiations' blocking work is on the auth pool, so
// established connections' calls never wait for it.
//
// Password checks go to a stand-in saslauthd (support/fake_saslauthd.h)
// that holds the user "slow" until released. With both auth-pool threads
// held by two "slow" negotiations and a third client trickling its
// negotiation a byte at a time, 2,000 authenticated connections each make a
// call and every reply arrives; only then are the held checks released.
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/clients.h"
#include "tests/support/fake_saslauthd.h"
#include "tests/support/status.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_handler.h"
#include "tests/support/wait.h"
#include "thrum/endpoint/socket.h"
#include "thrum/server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace thrum {
namespace {

using testing::failure;
using testing::succeeded;

constexpr int kConnections = 2000;

std::string be32(uint32_t n) {
  std::string out;
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(n >> shift));
  return out;
}

std::string message(uint8_t status, const std::string& payload) {
  return std::string(1, static_cast<char>(status)) + be32(payload.size()) + payload;
}

// A blocking loopback socket with a receive timeout, so a bug fails the
// test instead of hanging it.
class Peer {
 public:
  explicit Peer(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
  }
  ~Peer() { ::close(fd_); }
  Peer(const Peer&) = delete;

  void send(const std::string& bytes) {
    if (::write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      throw std::runtime_error("short write");
    }
  }
  std::string read(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, out.data() + got, n - got);
      if (r <= 0) return out.substr(0, got);
      got += static_cast<size_t>(r);
    }
    return out;
  }
  // PLAIN as Java sends it: START, then COMPLETE with the initial response.
  void plain(const std::string& user, const std::string& password) {
    send(message(1, "PLAIN") + message(5, std::string(1, '\0') + user + '\0' + password));
  }

 private:
  int fd_ = -1;
};

TEST(SaslScale, TwoThousandAuthenticatedConnectionsCallWhileNegotiationsBlock) {
  endpoint::raiseOpenFileLimit();
  testing::TempDir tmp("thrum-saslauthd");
  const std::string& dir = tmp.path();
  {
    testing::FakeSaslauthd saslauthd(dir + "/mux", {{"alice", "secret"}});
    auto handler = std::make_shared<testing::TestHandler>();
    Server server(
        std::make_shared<bench::BenchProcessor>(handler),
        {.io_threads = 2, .workers = 4, .queue = 4096, .auth_threads = 2, .auth_queue = 4096});
    ASSERT_TRUE(
        succeeded(server.listen("tcp:port=0:interface=127.0.0.1:backlog=4096:sasl=required:"
                                "mechs=PLAIN:realm=THRUM.TEST:saslauthd=" +
                                saslauthd.path())));
    server.start();
    uint16_t port = server.port();

    // 2,000 negotiations, all in flight at once, then every COMPLETE.
    std::vector<std::unique_ptr<Peer>> peers;
    for (int i = 0; i < kConnections; ++i) {
      peers.push_back(std::make_unique<Peer>(port));
      peers.back()->plain("alice", "secret");
    }
    for (auto& p : peers) ASSERT_EQ(p->read(5), message(5, ""));
    EXPECT_EQ(server.metrics().value("sasl.authenticated"), kConnections);

    // Both auth threads held by password checks that do not return...
    Peer slow1(port), slow2(port);
    slow1.plain("slow", "x");
    slow2.plain("slow", "y");
    ASSERT_TRUE(testing::waitFor([&] { return saslauthd.held() == 2; }));
    // ...and a client trickling its negotiation a byte at a time.
    Peer trickler(port);
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
      std::string bytes = message(1, "PLAIN");
      for (size_t i = 0; i < bytes.size() && !stop; ++i) {
        trickler.send(bytes.substr(i, 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });

    // Every authenticated connection calls; every reply comes back.
    std::string call =
        testing::encodeWith({transport::Framing::kUnframed, transport::Protocol::kBinary},
                            [](auto& c) { c.send_ping(); });
    for (auto& p : peers) p->send(be32(call.size()) + call);
    int replies = 0;
    for (auto& p : peers) {
      std::string header = p->read(4);
      ASSERT_EQ(header.size(), 4u);
      uint32_t len = 0;
      for (char c : header) len = (len << 8) | static_cast<uint8_t>(c);
      std::string reply = p->read(len);
      replies += reply.size() == len && static_cast<uint8_t>(reply[3]) == 2 ? 1 : 0;
    }
    EXPECT_EQ(replies, kConnections);
    EXPECT_EQ(saslauthd.held(), 2) << "the calls were answered while the checks were held";
    EXPECT_EQ(handler->seen()->principal, "alice@THRUM.TEST");

    saslauthd.release();
    EXPECT_EQ(slow1.read(5), message(5, ""));
    EXPECT_EQ(slow2.read(5), message(5, ""));
    stop = true;
    trickle.join();
    EXPECT_EQ(server.metrics().value("sasl.authenticated"), kConnections + 2);
    EXPECT_EQ(saslauthd.checks(), kConnections + 2) << "every password went to saslauthd";
    peers.clear();
  }
}

TEST(SaslScale, AFullAuthPoolAnswersServerBusyAndServesTheRest) {
  testing::TempDir tmp("thrum-saslauthd");
  const std::string& dir = tmp.path();
  {
    testing::FakeSaslauthd saslauthd(dir + "/mux", {{"alice", "secret"}});
    Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()),
                  {.auth_threads = 1, .auth_queue = 1});
    ASSERT_TRUE(
        succeeded(server.listen("tcp:port=0:interface=127.0.0.1:sasl=required:mechs=PLAIN:"
                                "saslauthd=" +
                                saslauthd.path())));
    server.start();
    Peer running(server.port()), queued(server.port()), refused(server.port());
    running.plain("slow", "x");
    ASSERT_TRUE(testing::waitFor([&] { return saslauthd.held() == 1; }));
    // "slow" took the one thread (its START, then its response); alice's
    // START takes the one queue place.
    queued.plain("alice", "secret");
    ASSERT_TRUE(testing::waitFor([&] { return server.metrics().value("sasl.steps") == 3; }));
    refused.plain("alice", "secret");
    std::string why = "Server busy: too many authentications in progress";
    EXPECT_EQ(refused.read(5 + why.size()), message(3, why));
    saslauthd.release();
    EXPECT_EQ(running.read(5), message(5, ""));
    EXPECT_EQ(queued.read(5), message(5, ""));
    EXPECT_EQ(server.metrics().value("sasl.authenticated"), 2);
  }
}

}  // namespace
}  // namespace thrum
