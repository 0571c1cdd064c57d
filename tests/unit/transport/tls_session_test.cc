// TlsSession against an OpenSSL client in memory: the handshake, data both
// ways, the peer certificate's names, and what an idle session keeps.
//
// OpenSSL's allocator is replaced before main() by one that counts live
// bytes, so the test can see every buffer the library still holds.
#include "thrum/transport/tls_session.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_pki.h"
#include "thrum/transport/tls_context.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

namespace thrum::transport {
namespace {

// Live bytes allocated through OpenSSL, each block prefixed by its size.
std::atomic<int64_t> openssl_live{0};
constexpr size_t kHeader = alignof(std::max_align_t);

void* countedMalloc(size_t n, const char*, int) {
  auto* p = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (p == nullptr) return nullptr;
  std::memcpy(p, &n, sizeof(n));
  openssl_live += static_cast<int64_t>(n);
  return p + kHeader;
}

void countedFree(void* ptr, const char*, int) {
  if (ptr == nullptr) return;
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t n;
  std::memcpy(&n, p, sizeof(n));
  openssl_live -= static_cast<int64_t>(n);
  std::free(p);
}

void* countedRealloc(void* ptr, size_t n, const char* file, int line) {
  if (ptr == nullptr) return countedMalloc(n, file, line);
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t old;
  std::memcpy(&old, p, sizeof(old));
  auto* q = static_cast<unsigned char*>(std::realloc(p, n + kHeader));
  if (q == nullptr) return nullptr;
  std::memcpy(q, &n, sizeof(n));
  openssl_live += static_cast<int64_t>(n) - static_cast<int64_t>(old);
  return q + kHeader;
}

const bool counting_installed =
    CRYPTO_set_mem_functions(countedMalloc, countedRealloc, countedFree) == 1;

// The client end: an OpenSSL client whose ciphertext travels through a BIO
// pair (its buffers are allocated once, when the pair is made), and the
// thrum session under test as the server.
struct Pair {
  SslContext server_ctx, client_ctx;
  std::unique_ptr<SSL, decltype(&SSL_free)> client{nullptr, SSL_free};
  BIO* wire = nullptr;  // our end of the client's BIO pair
  std::unique_ptr<TlsSession> server;

  Pair(const testing::TestPki& pki, bool client_cert) {
    std::string error;
    endpoint::TlsServerOptions so;
    so.cert = pki.server_cert;
    so.key = pki.server_key;
    so.ca = client_cert ? pki.ca_cert : "";
    server_ctx = makeServerContext(so, error);
    endpoint::TlsClientOptions co;
    co.ca = pki.ca_cert;
    if (client_cert) {
      co.cert = pki.client_cert;
      co.key = pki.client_key;
    }
    client_ctx = makeClientContext(co, error);
    if (!server_ctx || !client_ctx) throw std::runtime_error(error);
    client.reset(SSL_new(client_ctx.get()));
    BIO* inner = nullptr;
    BIO_new_bio_pair(&inner, 1 << 20, &wire, 1 << 20);
    SSL_set_bio(client.get(), inner, inner);
    SSL_set_connect_state(client.get());
    SSL_set_tlsext_host_name(client.get(), "localhost");
    SSL_set1_host(client.get(), "localhost");
    server = std::make_unique<TlsSession>(server_ctx.get());
  }
  ~Pair() { BIO_free(wire); }

  // Moves the client's ciphertext into the server and the server's back,
  // returning the plaintext the server decrypted.
  std::string pump() {
    std::string plain;
    for (int round = 0; round < 20; ++round) {
      std::string from_client(BIO_ctrl_pending(wire), '\0');
      if (!from_client.empty()) BIO_read(wire, from_client.data(), int(from_client.size()));
      server->receive({reinterpret_cast<const uint8_t*>(from_client.data()), from_client.size()});
      if (!server->established()) {
        EXPECT_NE(server->handshake(), TlsSession::Result::kError) << server->error();
      }
      if (server->established()) {
        EXPECT_EQ(server->read(plain), TlsSession::Result::kOk) << server->error();
      }
      std::string to_client;
      server->takeOutput(to_client);
      if (!to_client.empty()) BIO_write(wire, to_client.data(), int(to_client.size()));
      SSL_do_handshake(client.get());
      if (from_client.empty() && to_client.empty() && BIO_ctrl_pending(wire) == 0) break;
    }
    return plain;
  }

  void clientSend(const std::string& data) {
    size_t n = 0;
    ASSERT_EQ(SSL_write_ex(client.get(), data.data(), data.size(), &n), 1);
  }

  std::string clientReceive() {
    std::string out;
    char buf[16384];
    size_t n = 0;
    while (SSL_read_ex(client.get(), buf, sizeof(buf), &n) == 1) out.append(buf, n);
    return out;
  }

  // One request and its reply through the session.
  void roundTrip(const std::string& request, const std::string& reply) {
    clientSend(request);
    EXPECT_EQ(pump(), request);
    ASSERT_EQ(server->write(reply), TlsSession::Result::kOk);
    pump();
    EXPECT_EQ(clientReceive(), reply);
  }
};

TEST(TlsSession, HandshakesAndCarriesDataBothWays) {
  testing::TestPki pki;
  Pair p(pki, /*client_cert=*/false);
  p.pump();
  ASSERT_TRUE(p.server->established());
  EXPECT_EQ(p.server->version(), "TLSv1.3");
  EXPECT_FALSE(p.server->resumed());
  EXPECT_EQ(p.server->peerSubject(), "");
  EXPECT_TRUE(p.server->peerAltNames().empty());
  p.roundTrip("hello", "world");
  p.roundTrip(std::string(100000, 'q'), std::string(70000, 'r'));  // several records
}

TEST(TlsSession, ReportsTheClientCertificatesSubjectAndAltNames) {
  testing::TestPki pki;
  Pair p(pki, /*client_cert=*/true);
  p.pump();
  ASSERT_TRUE(p.server->established());
  EXPECT_EQ(p.server->peerSubject(), "CN=thrum-test-client,O=thrum tests");
  EXPECT_EQ(
      p.server->peerAltNames(),
      (std::vector<std::string>{"DNS:thrum-test-client", "URI:spiffe://thrum.test/client",
                                "email:client@thrum.test", "IP:192.0.2.7", "IP:2001:db8::7"}));
}

TEST(TlsSession, InputOfferedByteByByteIsKeptUntilRead) {
  testing::TestPki pki;
  Pair p(pki, /*client_cert=*/false);
  p.pump();
  ASSERT_TRUE(p.server->established());
  p.clientSend("split into single bytes");
  std::string cipher(BIO_ctrl_pending(p.wire), '\0');
  BIO_read(p.wire, cipher.data(), int(cipher.size()));
  std::string plain;
  for (char c : cipher) {
    uint8_t byte = static_cast<uint8_t>(c);
    p.server->receive({&byte, 1});
    ASSERT_EQ(p.server->read(plain), TlsSession::Result::kOk);
  }
  EXPECT_EQ(plain, "split into single bytes");
}

TEST(TlsSession, AnIdleSessionHoldsNoBufferSizedByItsTraffic) {
  ASSERT_TRUE(counting_installed) << "OpenSSL allocated before the counter was installed";
  testing::TestPki pki;
  Pair p(pki, /*client_cert=*/false);
  p.pump();
  p.roundTrip("warm", "up");  // session tickets and lazily made state
  int64_t idle_before = openssl_live.load();

  p.roundTrip(std::string(256 * 1024, 'a'), std::string(256 * 1024, 'b'));
  int64_t idle_after = openssl_live.load();

  // A memory BIO would keep its largest content, 256 KiB each way.
  EXPECT_LT(idle_after - idle_before, 1024)
      << "idle before " << idle_before << " B, after " << idle_after << " B";

  // What the idle session holds is what freeing it gives back: the SSL
  // object and its keys, without OpenSSL's 17 KiB read and write buffers.
  p.server.reset();
  int64_t held = idle_after - openssl_live.load();
  std::printf("an idle TLS 1.3 session holds %lld bytes of OpenSSL memory\n",
              static_cast<long long>(held));
  EXPECT_LT(held, 16 * 1024);
}

}  // namespace
}  // namespace thrum::transport
