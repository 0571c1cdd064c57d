// SASL endpoints over real loopback sockets with thrum's own client
// transport: every password mechanism and QoP from a private sasldb made by
// saslpasswd2, over plain TCP and inside TLS; the failures a client can
// cause (wrong password, unknown mechanism, protocol violations) answered
// with the reason the client reads before the connection closes.
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>

#include <gtest/gtest.h>
#include <thrift/TApplicationException.h>
#include <thrift/transport/TTransportException.h>

#include "tests/support/clients.h"
#include "tests/support/sasldb.h"
#include "tests/support/status.h"
#include "tests/support/test_handler.h"
#include "tests/support/test_kdc.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

namespace thrum {
namespace {

using testing::failure;
using testing::succeeded;

namespace fs = std::filesystem;
using testing::waitFor;

using testing::kRealm;
using testing::Sasldb;

struct SaslServer : testing::WithSasldb, testing::TestServer {
  explicit SaslServer(const std::string& prefix = testing::kLoopbackPort0,
                      const std::string& extra = "", ServerOptions options = {})
      : TestServer(options,
                   {testing::saslEndpoint(db, "PLAIN,SCRAM-SHA-256,DIGEST-MD5", prefix) + extra}) {}
};

std::string clientSpec(uint16_t port, const std::string& mech, const std::string& user,
                       const std::string& extra = "") {
  return "tcp:host=127.0.0.1:port=" + std::to_string(port) + ":sasl=" + mech + ":user=" + user +
         ":hostname=localhost" + extra;
}

TEST(Sasl, PlainAuthenticatesAndThePrincipalReachesTheHandler) {
  SaslServer s;
  auto conn = thrum::connect(clientSpec(s.port(), "PLAIN", "alice"), {.sasl_password = "secret"});
  ASSERT_TRUE(conn) << conn.error();
  bench::BenchClient client(conn->protocol);
  client.ping();
  auto seen = s.handler->seen();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->principal, std::string("alice@") + kRealm);
  EXPECT_EQ(seen->sasl_mechanism, "PLAIN");
  EXPECT_EQ(seen->sasl_qop, "auth");
  std::string out;
  std::string big(200 * 1024, 'p');
  client.echo(out, big);
  EXPECT_EQ(out, big);
  EXPECT_EQ(s.metric("sasl.authenticated"), 1);
}

// Every password mechanism with every QoP it offers, over TCP and in TLS.
using Case = std::tuple<std::string, std::string, bool>;  // mechanism, qop, tls

class SaslMechanisms : public ::testing::TestWithParam<Case> {};

TEST_P(SaslMechanisms, AuthenticateAndCarryCallsAtTheNegotiatedProtection) {
  auto [mech, qop, tls] = GetParam();
  testing::TestPki pki;
  std::string prefix =
      tls ? "tls:port=0:interface=127.0.0.1:cert=" + pki.server_cert + ":key=" + pki.server_key
          : "tcp:port=0:interface=127.0.0.1";
  SaslServer s(prefix);
  std::string spec = std::string(tls ? "tls:" : "") +
                     "tcp:host=" + (tls ? "localhost" : "127.0.0.1") +
                     ":port=" + std::to_string(s.port()) + (tls ? ":ca=" + pki.ca_cert : "") +
                     ":sasl=" + mech + ":user=bob:hostname=localhost:qop=" + qop;
  auto conn = thrum::connect(spec, {.sasl_password = "hunter2"});
  ASSERT_TRUE(conn) << conn.error();
  bench::BenchClient client(conn->protocol);
  client.ping();
  auto seen = s.handler->seen();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->principal, std::string("bob@") + kRealm);
  EXPECT_EQ(seen->sasl_mechanism, mech);
  EXPECT_EQ(seen->sasl_qop, qop);
  EXPECT_EQ(seen->tls_version, tls ? "TLSv1.3" : "");
  // Larger than one security-layer packet, pipelined with a small one.
  std::string big(300 * 1024, 'q');
  std::string out;
  client.echo(out, big);
  EXPECT_EQ(out, big);
  client.echo(out, "small");
  EXPECT_EQ(out, "small");
}

INSTANTIATE_TEST_SUITE_P(
    EveryMechanism, SaslMechanisms,
    ::testing::Values(Case{"PLAIN", "auth", false}, Case{"PLAIN", "auth", true},
                      Case{"SCRAM-SHA-256", "auth", false}, Case{"SCRAM-SHA-256", "auth", true},
                      Case{"DIGEST-MD5", "auth", false}, Case{"DIGEST-MD5", "auth-int", false},
                      Case{"DIGEST-MD5", "auth-conf", false}, Case{"DIGEST-MD5", "auth", true},
                      Case{"DIGEST-MD5", "auth-int", true}, Case{"DIGEST-MD5", "auth-conf", true}),
    [](const auto& test) {
      std::string name = std::get<0>(test.param) + "_" + std::get<1>(test.param) +
                         (std::get<2>(test.param) ? "_tls" : "_tcp");
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

// Kerberos through a private KDC: alice's ticket cache, thrift/localhost's keytab.
class Gssapi : public ::testing::TestWithParam<std::string> {};

TEST_P(Gssapi, AuthenticatesWithTheTicketCacheAtEveryProtection) {
  const std::string qop = GetParam();
  testing::TestKdc kdc;
  auto handler = std::make_shared<testing::TestHandler>();
  Server server(std::make_shared<bench::BenchProcessor>(handler));
  ASSERT_TRUE(succeeded(server.listen(
      "tcp:port=0:interface=127.0.0.1:sasl=required:mechs=GSSAPI:keytab=" + kdc.keytab +
      ":realm=" + testing::TestKdc::kRealm + ":hostname=localhost")));
  server.start();
  auto conn = thrum::connect("tcp:host=127.0.0.1:port=" + std::to_string(server.port()) +
                                 ":sasl=GSSAPI:hostname=localhost:qop=" + qop,
                             {});
  ASSERT_TRUE(conn) << conn.error();
  bench::BenchClient client(conn->protocol);
  client.ping();
  auto seen = handler->seen();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->principal, std::string("alice@") + testing::TestKdc::kRealm);
  EXPECT_EQ(seen->sasl_mechanism, "GSSAPI");
  EXPECT_EQ(seen->sasl_qop, qop);
  std::string big(300 * 1024, 'k'), out;
  client.echo(out, big);
  EXPECT_EQ(out, big);
}

INSTANTIATE_TEST_SUITE_P(EveryQop, Gssapi, ::testing::Values("auth", "auth-int", "auth-conf"),
                         [](const auto& test) {
                           std::string name = test.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(Sasl, WrongPasswordIsRefusedWithTheReasonAndNeverReachesAHandler) {
  SaslServer s;
  for (const char* mech : {"PLAIN", "SCRAM-SHA-256", "DIGEST-MD5"}) {
    auto conn = thrum::connect(clientSpec(s.port(), mech, "alice"), {.sasl_password = "wrong"});
    EXPECT_FALSE(conn) << mech;
    EXPECT_NE(conn.error().find("server answered BAD: Authentication failed"), std::string::npos)
        << mech << ": " << conn.error();
    EXPECT_TRUE(waitFor([&] { return s.metric(std::string("sasl.failed.") + mech) == 1; })) << mech;
  }
  EXPECT_FALSE(s.handler->seen());
  EXPECT_TRUE(waitFor([&] { return s.metric("connections.closed.sasl_failed") == 3; }));
  // A good password still gets in.
  EXPECT_TRUE(succeeded(
      thrum::connect(clientSpec(s.port(), "PLAIN", "alice"), {.sasl_password = "secret"})));
}

TEST(Sasl, APrincipalOverItsConnectionLimitIsRefusedOthersAreNot) {
  SaslServer s("tcp:port=0:interface=127.0.0.1", "", {.max_connections_per_principal = 2});
  auto login = [&](const char* user, const char* password) {
    return thrum::connect(clientSpec(s.port(), "PLAIN", user), {.sasl_password = password});
  };
  auto a1 = login("alice", "secret");
  auto a2 = login("alice", "secret");
  ASSERT_TRUE(succeeded(a1));
  ASSERT_TRUE(succeeded(a2));
  std::string error = failure(login("alice", "secret"));
  EXPECT_NE(error.find("server answered ERROR: thrum overloaded: max_connections_per_principal: "
                       "principal alice@THRUM.TEST has 2 connections open"),
            std::string::npos)
      << error;
  EXPECT_TRUE(
      waitFor([&] { return s.metric("connections.closed.max_connections_per_principal") == 1; }));
  auto b = login("bob", "hunter2");  // another principal from the same address
  ASSERT_TRUE(succeeded(b));
  bench::BenchClient(a1->protocol).ping();
  bench::BenchClient(b->protocol).ping();
  a1->transport->close();  // alice's place comes free
  ASSERT_TRUE(waitFor([&] { return s.server->openConnections() == 2; }));
  EXPECT_TRUE(succeeded(login("alice", "secret")));
}

TEST(Sasl, TheAuthorizerDecidesPerPrincipalAndMethod) {
  Sasldb db;
  auto handler = std::make_shared<testing::TestHandler>();
  Server server(std::make_shared<bench::BenchProcessor>(handler));
  server.setAuthorizer([](const CallContext& call) {
    if (call.principal() == std::string("bob@") + kRealm || call.method() == "ping") {
      return Status();
    }
    return Status::failure("only bob may echo");
  });
  ASSERT_TRUE(succeeded(
      server.listen("tcp:port=0:interface=127.0.0.1:sasl=required:mechs=PLAIN:sasldb=" + db.path +
                    ":realm=" + kRealm)));
  server.start();
  auto alice =
      thrum::connect(clientSpec(server.port(), "PLAIN", "alice"), {.sasl_password = "secret"});
  ASSERT_TRUE(alice) << alice.error();
  bench::BenchClient as_alice(alice->protocol);
  as_alice.ping();
  std::string out;
  try {
    as_alice.echo(out, "x");
    ADD_FAILURE() << "alice's echo ran";
  } catch (const apache::thrift::TApplicationException& e) {
    EXPECT_EQ(std::string(e.what()), std::string("thrum: permission denied: principal alice@") +
                                         kRealm + " may not call echo: only bob may echo");
  }
  as_alice.ping();  // the connection stays
  auto bob =
      thrum::connect(clientSpec(server.port(), "PLAIN", "bob"), {.sasl_password = "hunter2"});
  ASSERT_TRUE(bob) << bob.error();
  bench::BenchClient as_bob(bob->protocol);
  as_bob.echo(out, "y");
  EXPECT_EQ(out, "y");
  EXPECT_EQ(server.metrics().value("calls.refused.unauthorized"), 1);
}

TEST(Sasl, APeerThatKeepsFailingIsSlowedDownOthersAreNot) {
  SaslServer s;
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(thrum::connect(clientSpec(s.port(), "PLAIN", "alice"), {.sasl_password = "bad"}));
  }
  // From the fourth failure on, each new attempt from 127.0.0.1 waited.
  EXPECT_EQ(s.metric("sasl.throttled"), 2);
  EXPECT_EQ(s.metric("sasl.failed.PLAIN"), 6);
  // Throttled, not refused: the right password still gets in, and forgives.
  EXPECT_TRUE(succeeded(
      thrum::connect(clientSpec(s.port(), "PLAIN", "alice"), {.sasl_password = "secret"})));
  EXPECT_EQ(s.metric("sasl.throttled"), 3);
  EXPECT_TRUE(succeeded(
      thrum::connect(clientSpec(s.port(), "PLAIN", "bob"), {.sasl_password = "hunter2"})));
  EXPECT_EQ(s.metric("sasl.throttled"), 3);
}

// The negotiation message a server sends, as bytes.
std::string message(uint8_t status, const std::string& payload) {
  std::string out(1, static_cast<char>(status));
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(n >> shift));
  return out + payload;
}

TEST(Sasl, UnknownMechanismIsAnsweredBadAsJavaDoes) {
  SaslServer s;
  testing::RawClient raw(s.port());
  raw.send(message(1, "CRAM-MD5") + message(2, ""));
  EXPECT_EQ(raw.readUntilClosed(), message(3, "Unsupported mechanism type CRAM-MD5"));
  EXPECT_FALSE(s.handler->seen());
}

TEST(Sasl, AnUnsupportedMechanismIsRepeatedOnlyInPart) {
  SaslServer s;
  for (int i = 0; i < 2; ++i) {
    testing::RawClient raw(s.port());
    std::string name(100000, 'X');
    name[0] = static_cast<char>('A' + i);  // two different names
    raw.send(message(1, name) + message(2, ""));
    EXPECT_EQ(raw.readUntilClosed(),
              message(3, "Unsupported mechanism type " + name.substr(0, 64) + "..."));
  }
  // Counted under one name, not under each name a peer makes up.
  EXPECT_TRUE(waitFor([&] { return s.metric("sasl.failed.none") == 2; }));
  for (const auto& [name, value] : s.server->metrics().snapshot()) {
    EXPECT_LT(name.size(), 100u) << "a counter named after the peer's bytes";
  }
  EXPECT_FALSE(s.handler->seen());
}

TEST(Sasl, ProtocolViolationsAreAnsweredErrorWithTheReason) {
  SaslServer s;
  struct Violation {
    std::string bytes, answer, counted;
  } violations[] = {
      {message(2, "PLAIN"), message(4, "Expecting START status, received 2"), "sasl_error"},
      {std::string("\x09\0\0\0\0", 5), message(4, "Invalid status 9"), "sasl_error"},
      {std::string("\x01\x7f\xff\xff\xff", 5),
       message(4, "Negotiation message of 2147483647 bytes is over the limit of 1048576"),
       "sasl_error"},
      // A stock client that does not speak SASL: its first byte is no status.
      {testing::encodeWith(testing::kAllStacks[0], [](auto& c) { c.send_ping(); }),
       message(4, "Invalid status 0"), "sasl_error"},
  };
  int n = 0;
  for (const auto& v : violations) {
    testing::RawClient raw(s.port());
    raw.send(v.bytes);
    EXPECT_EQ(raw.readUntilClosed(), v.answer);
    raw.close();  // the server, lingering until now, closes too
    ++n;
    EXPECT_TRUE(waitFor([&] { return s.metric("connections.closed." + v.counted) == n; }));
  }
  EXPECT_FALSE(s.handler->seen());
}

TEST(Sasl, JavaPlainSequenceSplitIntoSingleBytes) {
  SaslServer s;
  // As Java's TSaslClientTransport writes it: START, COMPLETE(initial
  // response), then a data frame holding one strict-binary call.
  std::string call =
      testing::encodeWith({transport::Framing::kUnframed, transport::Protocol::kBinary},
                          [](auto& c) { c.send_ping(); });
  std::string frame;
  for (int shift : {24, 16, 8, 0}) frame.push_back(static_cast<char>(call.size() >> shift));
  std::string negotiation = message(1, "PLAIN") + message(5, std::string("\0alice\0secret", 13));
  testing::RawClient raw(s.port());
  for (char c : negotiation) raw.send(std::string(1, c));
  EXPECT_EQ(raw.readExactly(5), message(5, ""));
  for (char c : frame + call) raw.send(std::string(1, c));
  std::string reply_header = raw.readExactly(4);
  uint32_t len = 0;
  for (char c : reply_header) len = (len << 8) | static_cast<uint8_t>(c);
  std::string reply = raw.readExactly(len);
  EXPECT_EQ(static_cast<uint8_t>(reply[3]), 2) << "a REPLY to ping";
  EXPECT_EQ(s.handler->seen()->principal, std::string("alice@") + kRealm);
}

TEST(Sasl, AStalledNegotiationTimesOut) {
  ServerOptions options;
  options.handshake_timeout = std::chrono::milliseconds(300);
  SaslServer s("tcp:port=0:interface=127.0.0.1", "", options);
  testing::RawClient raw(s.port());
  raw.send(message(1, "PLAIN"));  // and never the initial response
  EXPECT_EQ(raw.readUntilClosed(), "");
  EXPECT_EQ(s.metric("connections.closed.sasl_timeout"), 1);
}

TEST(Sasl, BadEndpointSettingsAreRefusedAtListen) {
  Sasldb db;
  Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()));
  std::string error;
  error = failure(server.listen("tcp:0:sasl=required:mechs=PLAIN"));
  EXPECT_EQ(error,
            "tcp:0:sasl=required:mechs=PLAIN: sasl: mechanism PLAIN checks passwords and "
            "needs sasldb= or saslauthd=");
  error = failure(server.listen("tcp:0:sasl=required:mechs=SCRAM-SHA-256:saslauthd=/run/x/mux"));
  EXPECT_EQ(error,
            "tcp:0:sasl=required:mechs=SCRAM-SHA-256:saslauthd=/run/x/mux: sasl: mechanism "
            "SCRAM-SHA-256 needs the stored secrets of a sasldb=");
  error = failure(server.listen("tcp:0:sasl=required:mechs=NOPE:sasldb=" + db.path));
  EXPECT_NE(error.find("sasl: mechanism NOPE is not installed (installed: "), std::string::npos)
      << error;
  error = failure(server.listen("tcp:0:sasl=required:mechs=PLAIN:sasldb=" + db.dir + "/none"));
  EXPECT_NE(error.find("sasl: sasldb " + db.dir + "/none: No such file or directory"),
            std::string::npos)
      << error;
  error = failure(server.listen("tcp:0:mechs=PLAIN"));
  EXPECT_EQ(error, "sasl: mechs= needs sasl=required");
  error = failure(server.listen("tcp:0:sasl=required:mechs=PLAIN:qop=secret"));
  EXPECT_EQ(error, "sasl: qop must list auth, auth-int or auth-conf, not 'secret'");
}

}  // namespace
}  // namespace thrum
