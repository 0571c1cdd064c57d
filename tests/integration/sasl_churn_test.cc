// SASL connection churn: every mechanism at every QoP it offers, over TCP
// and inside TLS, many connections at once that authenticate, call and
// close (cleanly, or with a reset while a call is in flight), round after
// round, while steady clients (plain and SASL) keep calling. The server must
// survive, serve the steady clients throughout, account for every call, and
// be back to only the steady connections after each round.
//
// This is the test that crosses the Cyrus SASL boundary hardest: each
// security layer (auth-int, auth-conf) outlives the negotiation that made
// it, and is disposed of on the I/O thread while other negotiations run on
// the auth pool. deploy/test.sh also runs it under valgrind memcheck, which
// sees reads inside libsasl2 that AddressSanitizer cannot.
//
// Sizes: THRUM_CHURN_ROUNDS (default 3) and THRUM_CHURN_CLIENTS (clients per
// mechanism, QoP and transport at once, each making one clean and one
// abrupt connection per round; default 3).
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/many_clients.h"
#include "tests/support/sasldb.h"
#include "tests/support/test_handler.h"
#include "tests/support/test_kdc.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

namespace thrum {
namespace {

using testing::waitFor;

size_t fromEnvironment(const char* name, size_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && std::atoi(text) > 0 ? static_cast<size_t>(std::atoi(text)) : fallback;
}

struct Mode {
  std::string mech, qop;
};

// Every mechanism with every QoP it can give; PLAIN and SCRAM have no
// security layer.
const Mode kModes[] = {
    {"PLAIN", "auth"},          {"SCRAM-SHA-256", "auth"},   {"DIGEST-MD5", "auth"},
    {"DIGEST-MD5", "auth-int"}, {"DIGEST-MD5", "auth-conf"}, {"GSSAPI", "auth"},
    {"GSSAPI", "auth-int"},     {"GSSAPI", "auth-conf"},
};

// One server: a plain endpoint for bystanders, and SASL offering every
// mechanism (a sasldb for the password ones, the private KDC's keytab for
// GSSAPI) over TCP and over TLS.
struct ChurnParts {
  testing::TestKdc kdc;
  testing::Sasldb db;
  testing::TestPki pki;

  std::vector<std::string> endpoints() const {
    std::string mechs = "PLAIN,SCRAM-SHA-256,DIGEST-MD5,GSSAPI";
    std::string keytab = ":keytab=" + kdc.keytab;
    return {testing::kLoopbackPort0, testing::saslEndpoint(db, mechs) + keytab,
            testing::saslEndpoint(db, mechs, testing::tlsEndpoint(pki)) + keytab};
  }
};

struct ChurnServer : ChurnParts, testing::TestServer {
  ChurnServer() : TestServer({.handshake_timeout = std::chrono::seconds(60)}, endpoints()) {}

  // A client endpoint string for `mode` over TCP or TLS.
  std::string spec(const Mode& mode, bool tls) const {
    std::string user = mode.mech == "GSSAPI" ? "" : ":user=alice";
    return std::string(tls ? "tls:tcp:host=localhost:ca=" + pki.ca_cert : "tcp:host=127.0.0.1") +
           ":port=" + std::to_string(server->port(tls ? 2 : 1)) + ":sasl=" + mode.mech + user +
           ":hostname=localhost:qop=" + mode.qop;
  }
};

std::string describe(const Mode& mode, bool tls) {
  return mode.mech + "/" + mode.qop + (tls ? "/tls" : "/tcp");
}

// Authenticates, calls, and closes: cleanly, or by a reset while an echo is
// on its way (the server owes a reply it cannot deliver). Returns "" or
// what went wrong.
std::string churnOnce(const ChurnServer& s, const Mode& mode, bool tls, bool abrupt) {
  auto conn = thrum::connect(s.spec(mode, tls), {.sasl_password = "secret"});
  if (!conn) return describe(mode, tls) + ": " + conn.error();
  try {
    bench::BenchClient client(conn->protocol);
    std::string out, payload(8 * 1024 + 7, 'c');
    client.echo(out, payload);
    if (out != payload) return describe(mode, tls) + ": echo came back different";
    client.ping();
    if (abrupt) {
      client.send_echo("sleep:5:" + payload);
      linger off{1, 0};  // close() resets the connection instead of ending it
      setsockopt(conn->socket->getSocketFD(), SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    }
    conn->transport->close();
  } catch (const std::exception& e) {
    return describe(mode, tls) + ": " + e.what();
  }
  return "";
}

// Long-lived SASL clients that call throughout, one per mode that has a
// security layer, each on its own thread.
class SteadyClients {
 public:
  explicit SteadyClients(const ChurnServer& s) {
    for (const Mode& mode : {Mode{"DIGEST-MD5", "auth-conf"}, Mode{"GSSAPI", "auth-int"}}) {
      threads_.emplace_back([this, &s, mode] {
        auto conn = thrum::connect(s.spec(mode, true), {.sasl_password = "secret"});
        if (!conn) {
          failures_.fetch_add(1);
          return;
        }
        try {
          bench::BenchClient client(conn->protocol);
          std::string out;
          while (!stop_.load()) {
            client.echo(out, "steady");
            calls_.fetch_add(1);
          }
        } catch (const std::exception&) {
          failures_.fetch_add(1);
        }
      });
    }
  }
  ~SteadyClients() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }
  size_t calls() const { return calls_.load(); }
  size_t failures() const { return failures_.load(); }
  size_t size() const { return threads_.size(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<size_t> calls_{0}, failures_{0};
  std::vector<std::thread> threads_;
};

TEST(SaslChurn, EveryMechanismAndQopConnectsCallsAndClosesWhileOthersCall) {
  const size_t rounds = fromEnvironment("THRUM_CHURN_ROUNDS", 3);
  const size_t clients = fromEnvironment("THRUM_CHURN_CLIENTS", 3);
  ChurnServer s;
  size_t made = 0, steady_connections = 0;
  {
    constexpr size_t kBystanders = 2;
    testing::Bystanders plain(s.server->port(0), kBystanders);
    SteadyClients steady(s);
    steady_connections = steady.size();
    const size_t kSteady = kBystanders + steady.size();
    ASSERT_TRUE(waitFor([&] { return steady.calls() >= 2 || steady.failures() > 0; }));

    for (size_t round = 0; round < rounds; ++round) {
      std::vector<std::thread> threads;
      std::vector<std::string> errors(std::size(kModes) * 2 * clients);
      size_t slot = 0;
      for (const Mode& mode : kModes) {
        for (bool tls : {false, true}) {
          for (size_t c = 0; c < clients; ++c, ++slot) {
            threads.emplace_back([&s, &errors, mode, tls, slot] {
              errors[slot] = churnOnce(s, mode, tls, /*abrupt=*/false);
              if (errors[slot].empty()) errors[slot] = churnOnce(s, mode, tls, /*abrupt=*/true);
            });
          }
        }
      }
      size_t steady_before = steady.calls();
      for (auto& t : threads) t.join();
      made += threads.size() * 2;
      for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
      EXPECT_TRUE(waitFor([&] { return s.server->openConnections() == kSteady; }))
          << "round " << round << ": " << s.server->openConnections() << " open";
      EXPECT_GT(steady.calls(), steady_before) << "steady clients served during round " << round;
      EXPECT_TRUE(plain.waitForCalls(5)) << "plain bystanders served after round " << round;
    }
    EXPECT_EQ(steady.failures(), 0u);
    EXPECT_EQ(plain.failures(), 0u);
  }
  EXPECT_TRUE(waitFor([&] { return s.server->openConnections() == 0; }));
  // Every call taken was answered, or counted as dropped (the abrupt ones').
  EXPECT_TRUE(waitFor([&] {
    return s.metric("replies.written") + s.metric("replies.dropped") == s.metric("calls.received");
  }));
  EXPECT_EQ(s.metric("sasl.authenticated"), int64_t(made + steady_connections));
  for (const char* reason :
       {"sasl_failed", "sasl_error", "sasl_decode_failed", "sasl_encode_failed", "sasl_timeout"}) {
    EXPECT_EQ(s.metric(std::string("connections.closed.") + reason), 0) << reason;
  }
}

}  // namespace
}  // namespace thrum
