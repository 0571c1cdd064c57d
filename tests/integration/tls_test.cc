// TLS endpoints over real loopback sockets: the stock Thrift C++ TSSLSocket
// client, openssl s_client, mutual TLS, and the clean failures (plain client
// on a TLS port, TLS client on a plain port, a handshake that never comes).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TTransportException.h>

#include "tests/support/clients.h"
#include "tests/support/openssl_peer.h"
#include "tests/support/status.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_handler.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_server.h"
#include "tests/support/wait.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

namespace thrum {
namespace {

using testing::failure;
using testing::succeeded;

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSSLSocketFactory;
using apache::thrift::transport::TTransportException;
using testing::TestPki;
using testing::waitFor;

struct TlsServer : testing::WithPki, testing::TestServer {
  explicit TlsServer(const std::string& extra = "", ServerOptions options = {})
      : TestServer(options, {testing::tlsEndpoint(pki, extra)}) {}
};

using testing::TempDir;

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
  EXPECT_TRUE(seen->tls_peer_alt_names.empty());
  client.transport->close();
}

// `openssl s_client -brief` to `target` ("-connect ADDR:PORT" or "-unix
// PATH"), verifying the chain and the name localhost; its exit status and
// output.
std::pair<int, std::string> sClient(const std::string& target, const std::string& ca) {
  std::string cmd = "openssl s_client " + target + " -CAfile " + ca +
                    " -verify_return_error -verify_hostname localhost -brief </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), p)) output += buf;
  return {pclose(p), output};
}

TEST(Tls, OpensslSClientCompletesATls13Handshake) {
  TlsServer s;
  auto [status, output] = sClient("-connect 127.0.0.1:" + std::to_string(s.port()), s.pki.ca_cert);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("Protocol version: TLSv1.3"), std::string::npos) << output;
  EXPECT_NE(output.find("Verification: OK"), std::string::npos) << output;
}

TEST(Tls, MutualTlsRequiresAndReportsTheClientCertificate) {
  TlsServer s;  // its PKI and handler serve the mutual-TLS server below
  Server mutual(std::make_shared<bench::BenchProcessor>(s.handler));
  ASSERT_TRUE(succeeded(mutual.listen("tls:port=0:interface=127.0.0.1:cert=" + s.pki.server_cert +
                                      ":key=" + s.pki.server_key + ":ca=" + s.pki.ca_cert)));
  mutual.start();
  EXPECT_THROW(
      {
        SslClient anonymous(s.pki, mutual.port());
        anonymous.bench->ping();
      },
      TTransportException);
  SslClient with_cert(s.pki, mutual.port(), /*client_cert=*/true);
  with_cert.bench->ping();
  auto seen = s.handler->seen();
  EXPECT_EQ(seen->tls_peer_subject, "CN=thrum-test-client,O=thrum tests");
  EXPECT_EQ(
      seen->tls_peer_alt_names,
      (std::vector<std::string>{"DNS:thrum-test-client", "URI:spiffe://thrum.test/client",
                                "email:client@thrum.test", "IP:192.0.2.7", "IP:2001:db8::7"}));
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
  ASSERT_TRUE(succeeded(plain.listen("tcp:port=0:interface=127.0.0.1")));
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
  options.handshake_timeout = std::chrono::milliseconds(200);
  TlsServer s("", options);
  testing::RawClient silent(s.port());
  EXPECT_EQ(silent.readUntilClosed(), "");
  EXPECT_EQ(s.metric("connections.closed.tls_handshake_timeout"), 1);
  SslClient other(s.pki, s.port());
  other.bench->ping();
}

TEST(Tls, ClientConnectFromATlsEndpointString) {
  TlsServer s;
  std::string base = "tls:host=localhost:port=" + std::to_string(s.port());
  auto conn = thrum::connect(base + ":ca=" + s.pki.ca_cert, {});
  ASSERT_TRUE(conn) << conn.error();
  bench::BenchClient ok(conn->protocol);
  std::string out;
  ok.echo(out, "verified");
  EXPECT_EQ(out, "verified");

  // A server whose CA the client does not trust fails the first call.
  auto wrong = thrum::connect(base + ":ca=" + s.pki.other_ca_cert, {.compact = true});
  ASSERT_TRUE(wrong) << wrong.error();
  bench::BenchClient refused(wrong->protocol);
  EXPECT_THROW(refused.ping(), apache::thrift::TException);

  // verify=no trusts any chain and name; server_name= names what to verify.
  auto unverified = thrum::connect(base + ":ca=" + s.pki.other_ca_cert + ":verify=no", {});
  ASSERT_TRUE(unverified) << unverified.error();
  bench::BenchClient trusting(unverified->protocol);
  trusting.ping();
  auto by_ip = thrum::connect(
      "tls:host=127.0.0.1:port=" + std::to_string(s.port()) + ":ca=" + s.pki.ca_cert, {});
  ASSERT_TRUE(by_ip) << by_ip.error();
  bench::BenchClient ip_checked(by_ip->protocol);
  ip_checked.ping();  // matched against the certificate's IP SAN
  auto wrong_name =
      thrum::connect(base + ":ca=" + s.pki.ca_cert + ":server_name=billing.internal", {});
  ASSERT_TRUE(wrong_name) << wrong_name.error();
  bench::BenchClient name_refused(wrong_name->protocol);
  EXPECT_THROW(name_refused.ping(), apache::thrift::TException);
}

TEST(Tls, ClientConnectOverAUnixSocket) {
  TestPki pki;
  TempDir tmp;
  const std::string& dir = tmp.path();
  std::string path = dir + "/tls.sock";
  Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()));
  ASSERT_TRUE(succeeded(
      server.listen("tls:unix:" + path + ":cert=" + pki.server_cert + ":key=" + pki.server_key)));
  server.start();
  {
    auto conn = thrum::connect(
        "tls:unix:path=" + path + ":ca=" + pki.ca_cert + ":server_name=localhost", {});
    ASSERT_TRUE(conn) << conn.error();
    bench::BenchClient client(conn->protocol);
    std::string out;
    client.echo(out, "tls over unix");
    EXPECT_EQ(out, "tls over unix");
  }  // closed while the server still listens: OpenSSL's close_notify has a reader

  EXPECT_EQ(failure(thrum::connect("tls:unix:path=" + path + ":ca=" + pki.ca_cert)),
            "tls:unix:path=" + path + ":ca=" + pki.ca_cert +
                ": TLS over a unix socket needs server_name= (the name the certificate "
                "must carry) or verify=no");
  EXPECT_EQ(failure(thrum::connect("tls:unix:path=" + dir + "/none.sock:verify=no")),
            "tls:unix:path=" + dir + "/none.sock:verify=no: No such file or directory");
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
  ASSERT_TRUE(succeeded(s.server->reloadTls()));
  char expected[32];
  std::snprintf(expected, sizeof(expected), "serial=%02lX", serial);
  EXPECT_EQ(servedSerial(s.port(), s.pki.ca_cert), expected) << "was " << before;
  int at_reload = calls;
  ASSERT_TRUE(waitFor([&] { return calls > at_reload + 10; })) << "the old connection goes on";

  // A broken file is refused whole: the current certificate stays.
  std::ofstream(s.pki.server_cert) << "not a certificate\n";
  std::string error = failure(s.server->reloadTls());
  EXPECT_NE(error.find("tls cert " + s.pki.server_cert), std::string::npos) << error;
  EXPECT_EQ(servedSerial(s.port(), s.pki.ca_cert), expected);
  stop = true;
  caller.join();
  EXPECT_EQ(failures, 0);
}

using testing::clientContext;
using testing::connectTcp;
using testing::connectUnix;
using testing::OpensslPeer;
using testing::SslCtx;

TEST(Tls, SessionsResumeWithTls13TicketsAndTls12SessionIds) {
  TlsServer s;
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
    int64_t resumed_before = s.metric("tls.resumed");
    SslCtx ctx = clientContext(s.pki.ca_cert, version);
    SSL_SESSION* session = nullptr;
    {
      OpensslPeer first(connectTcp(s.port()), ctx.get());
      ASSERT_TRUE(first.connected());
      EXPECT_FALSE(first.resumed());
      ASSERT_TRUE(first.ping());
      session = first.session();
    }
    OpensslPeer again(connectTcp(s.port()), ctx.get(), session);
    SSL_SESSION_free(session);
    ASSERT_TRUE(again.connected());
    EXPECT_TRUE(again.resumed());
    EXPECT_EQ(again.version(), version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
    EXPECT_TRUE(again.ping());
    EXPECT_EQ(s.metric("tls.resumed"), resumed_before + 1);
  }
  EXPECT_EQ(s.metric("tls.handshakes"), 4);
}

TEST(Tls, OverAUnixSocket) {
  TestPki pki;
  TempDir dir;
  std::string path = dir / "tls.sock";
  auto handler = std::make_shared<testing::TestHandler>();
  Server server(std::make_shared<bench::BenchProcessor>(handler));
  ASSERT_TRUE(succeeded(
      server.listen("tls:unix:" + path + ":cert=" + pki.server_cert + ":key=" + pki.server_key)));
  server.start();
  SslCtx ctx = clientContext(pki.ca_cert, TLS1_3_VERSION);
  OpensslPeer peer(connectUnix(path), ctx.get());
  ASSERT_TRUE(peer.connected());
  EXPECT_TRUE(peer.ping());
  EXPECT_EQ(handler->seen()->tls_version, "TLSv1.3");

  auto [status, output] = sClient("-unix " + path, pki.ca_cert);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("Protocol version: TLSv1.3"), std::string::npos) << output;
}

TEST(Tls, OverAnInheritedDescriptor) {
  TestPki pki;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()));
  ASSERT_TRUE(succeeded(server.listen("tls:fd:" + std::to_string(fd) + ":cert=" + pki.server_cert +
                                      ":key=" + pki.server_key)));
  server.start();
  SslCtx ctx = clientContext(pki.ca_cert, TLS1_3_VERSION);
  OpensslPeer peer(connectTcp(server.port()), ctx.get());
  ASSERT_TRUE(peer.connected());
  EXPECT_TRUE(peer.ping());
  // TSSLSocket, the stock C++ client, on the same inherited endpoint.
  SslClient stock(pki, server.port());
  stock.bench->ping();
}

TEST(Tls, BadCertificateFailsAtListenNamingTheFile) {
  TestPki pki;
  Server server(std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()));
  std::string error =
      failure(server.listen("tls:port=0:cert=" + pki.dir + "/nope.pem:key=" + pki.server_key));
  EXPECT_EQ(error.rfind("tls:port=0:cert=" + pki.dir + "/nope.pem:key=" + pki.server_key +
                            ": tls cert " + pki.dir + "/nope.pem: No such file or directory",
                        0),
            0u)
      << error;
}

}  // namespace
}  // namespace thrum
