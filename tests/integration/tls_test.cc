// TLS endpoints over real loopback sockets: the stock Thrift C++ TSSLSocket
// client, openssl s_client, mutual TLS, and the clean failures (plain client
// on a TLS port, TLS client on a plain port, a handshake that never comes).
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TTransportException.h>

#include "framework/client/connect.h"
#include "framework/server/server.h"
#include "tests/support/clients.h"
#include "tests/support/test_handler.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"

namespace thrum {
namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSSLSocketFactory;
using apache::thrift::transport::TTransportException;
using testing::TestPki;
using testing::waitFor;

struct TlsServer {
  TestPki pki;
  std::shared_ptr<testing::TestHandler> handler = std::make_shared<testing::TestHandler>();
  std::unique_ptr<Server> server;

  explicit TlsServer(const std::string& extra = "", ServerOptions options = {}) {
    server = std::make_unique<Server>(std::make_shared<bench::BenchProcessor>(handler), options);
    std::string error;
    std::string spec =
        "tls:port=0:interface=127.0.0.1:cert=" + pki.server_cert + ":key=" + pki.server_key + extra;
    if (server->listen(spec, &error)) throw std::runtime_error(error);
    server->start();
  }
  uint16_t port() const { return server->port(); }
  int64_t metric(const char* name) const { return server->metrics().value(name); }
};

// The stock Thrift C++ TLS client: TSSLSocketFactory, verifying the server.
struct SslClient {
  std::shared_ptr<TSSLSocketFactory> factory = std::make_shared<TSSLSocketFactory>();
  std::shared_ptr<apache::thrift::transport::TTransport> transport;
  std::unique_ptr<bench::BenchClient> bench;

  SslClient(const TestPki& pki, uint16_t port, bool client_cert = false) {
    factory->authenticate(true);
    factory->loadTrustedCertificates(pki.ca_cert.c_str());
    if (client_cert) {
      factory->loadCertificate(pki.client_cert.c_str());
      factory->loadPrivateKey(pki.client_key.c_str());
    }
    auto socket = factory->createSocket("localhost", port);
    socket->setRecvTimeout(10000);
    transport = std::make_shared<TFramedTransport>(socket);
    bench = std::make_unique<bench::BenchClient>(std::make_shared<TBinaryProtocol>(transport));
    transport->open();
  }
};

TEST(Tls, StockThriftSslClientCallsOverTls13) {
  TlsServer s;
  SslClient client(s.pki, s.port());
  std::string out;
  client.bench->echo(out, "over tls");
  EXPECT_EQ(out, "over tls");
  std::string big(300 * 1024, 'z');  // several TLS records each way
  client.bench->echo(out, big);
  EXPECT_EQ(out, big);
  client.bench->ping();
  auto seen = s.handler->seen();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->tls_version, "TLSv1.3");
  EXPECT_EQ(seen->tls_peer_subject, "");
  client.transport->close();
}

TEST(Tls, OpensslSClientCompletesATls13Handshake) {
  TlsServer s;
  std::string cmd = "openssl s_client -connect 127.0.0.1:" + std::to_string(s.port()) +
                    " -CAfile " + s.pki.ca_cert +
                    " -verify_return_error -verify_hostname localhost -brief </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), p)) output += buf;
  int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("Protocol version: TLSv1.3"), std::string::npos) << output;
  EXPECT_NE(output.find("Verification: OK"), std::string::npos) << output;
}

TEST(Tls, MutualTlsRequiresAndReportsTheClientCertificate) {
  TlsServer s;  // its PKI and handler serve the mutual-TLS server below
  Server mutual(std::make_shared<bench::BenchProcessor>(s.handler));
  std::string error;
  ASSERT_FALSE(mutual.listen("tls:port=0:interface=127.0.0.1:cert=" + s.pki.server_cert +
                                 ":key=" + s.pki.server_key + ":ca=" + s.pki.ca_cert,
                             &error))
      << error;
  mutual.start();
  EXPECT_THROW(
      {
        SslClient anonymous(s.pki, mutual.port());
        anonymous.bench->ping();
      },
      TTransportException);
  SslClient with_cert(s.pki, mutual.port(), /*client_cert=*/true);
  with_cert.bench->ping();
  EXPECT_EQ(s.handler->seen()->tls_peer_subject, "/CN=thrum-test-client");
  EXPECT_TRUE(waitFor(
      [&] { return mutual.metrics().value("connections.closed.tls_handshake_failed") >= 1; }));
}

TEST(Tls, PlainClientOnTlsPortFailsCleanly) {
  TlsServer s;
  auto plain = testing::connectStock(s.port(), testing::kAllStacks[0]);
  EXPECT_THROW(plain.bench->ping(), TTransportException);
  EXPECT_TRUE(waitFor([&] { return s.metric("connections.closed.tls_handshake_failed") == 1; }));
  SslClient still_fine(s.pki, s.port());
  still_fine.bench->ping();
}

TEST(Tls, TlsClientOnPlainPortFailsCleanly) {
  TestPki pki;
  auto handler = std::make_shared<testing::TestHandler>();
  Server plain(std::make_shared<bench::BenchProcessor>(handler));
  std::string error;
  ASSERT_FALSE(plain.listen("tcp:port=0:interface=127.0.0.1", &error)) << error;
  plain.start();
  // TSSLSocket shakes hands on first use.
  EXPECT_THROW(
      {
        SslClient client(pki, plain.port());
        client.bench->ping();
      },
      TTransportException);
  EXPECT_TRUE(
      waitFor([&] { return plain.metrics().value("connections.closed.looks_like_tls") == 1; }));
}

TEST(Tls, HandshakeThatNeverComesTimesOut) {
  ServerOptions options;
  options.tls_handshake_timeout = std::chrono::milliseconds(200);
  TlsServer s("", options);
  testing::RawClient silent(s.port());
  EXPECT_EQ(silent.readUntilClosed(), "");
  EXPECT_EQ(s.metric("connections.closed.tls_handshake_timeout"), 1);
  SslClient other(s.pki, s.port());
  other.bench->ping();
}

TEST(Tls, ClientConnectFromATlsEndpointString) {
  TlsServer s;
  std::string error;
  std::string base = "tls:host=localhost:port=" + std::to_string(s.port());
  auto conn = client::connect(base + ":ca=" + s.pki.ca_cert, {}, error);
  ASSERT_TRUE(conn) << error;
  bench::BenchClient ok(conn->protocol);
  std::string out;
  ok.echo(out, "verified");
  EXPECT_EQ(out, "verified");

  // A server whose CA the client does not trust fails the first call.
  auto wrong = client::connect(base + ":ca=" + s.pki.other_ca_cert, {.compact = true}, error);
  ASSERT_TRUE(wrong) << error;
  bench::BenchClient refused(wrong->protocol);
  EXPECT_THROW(refused.ping(), apache::thrift::TException);

  EXPECT_FALSE(client::connect(base + ":verify=no", {}, error));
  EXPECT_EQ(error, base + ":verify=no: verify=no is not supported for clients");

  EXPECT_FALSE(client::connect("tls:unix:path=/x", {}, error));
  EXPECT_EQ(error, "tls:unix:path=/x: TLS over a unix socket is not supported for clients");
}

// The serial number of the certificate a fresh TLS connection is served.
std::string servedSerial(uint16_t port, const std::string& ca) {
  std::string cmd = "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -CAfile " +
                    ca + " </dev/null 2>/dev/null | openssl x509 -noout -serial";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[128] = {};
  std::string out = fgets(buf, sizeof(buf), p) ? buf : "";
  pclose(p);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(Tls, CertificateReloadWhileAClientKeepsCalling) {
  TlsServer s;
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::thread caller([&] {
    SslClient client(s.pki, s.port());
    while (!stop) {
      try {
        std::string out;
        client.bench->echo(out, "steady");
        calls += out == "steady" ? 1 : 0;
      } catch (const std::exception&) {
        ++failures;
        return;
      }
    }
  });
  ASSERT_TRUE(waitFor([&] { return calls > 10; }));
  std::string before = servedSerial(s.port(), s.pki.ca_cert);
  long serial = s.pki.reissueServer();
  std::string error;
  ASSERT_TRUE(s.server->reloadTls(&error)) << error;
  char expected[32];
  std::snprintf(expected, sizeof(expected), "serial=%02lX", serial);
  EXPECT_EQ(servedSerial(s.port(), s.pki.ca_cert), expected) << "was " << before;
  int at_reload = calls;
  ASSERT_TRUE(waitFor([&] { return calls > at_reload + 10; })) << "the old connection goes on";

  // A broken file is refused whole: the current certificate stays.
  std::ofstream(s.pki.server_cert) << "not a certificate\n";
  EXPECT_FALSE(s.server->reloadTls(&error));
  EXPECT_NE(error.find("tls cert " + s.pki.server_cert), std::string::npos) << error;
  EXPECT_EQ(servedSerial(s.port(), s.pki.ca_cert), expected);
  stop = true;
  caller.join();
  EXPECT_EQ(failures, 0);
}

TEST(Tls, BadCertificateFailsAtListenNamingTheFile) {
  TestPki pki;
  Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()));
  std::string error;
  auto ec = server.listen("tls:port=0:cert=" + pki.dir + "/nope.pem:key=" + pki.server_key, &error);
  EXPECT_TRUE(ec);
  EXPECT_EQ(error.rfind("tls:port=0:cert=" + pki.dir + "/nope.pem:key=" + pki.server_key +
                            ": tls cert " + pki.dir + "/nope.pem: No such file or directory",
                        0),
            0u)
      << error;
}

}  // namespace
}  // namespace thrum
