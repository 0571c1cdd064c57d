#include "thrum/transport/tls_context.h"

#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace thrum::transport {
namespace {

using testing::TestPki;

endpoint::TlsServerOptions serverOptions(const TestPki& pki) {
  endpoint::TlsServerOptions o;
  o.cert = pki.server_cert;
  o.key = pki.server_key;
  return o;
}

endpoint::TlsClientOptions clientOptions(const std::string& ca, const std::string& cert = "",
                                         const std::string& key = "") {
  endpoint::TlsClientOptions o;
  o.ca = ca;
  o.cert = cert;
  o.key = key;
  return o;
}

// A client and a server SSL joined by an in-memory BIO pair.
struct Handshake {
  std::unique_ptr<SSL, decltype(&SSL_free)> client{nullptr, SSL_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> server{nullptr, SSL_free};

  Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx, const char* host) {
    client.reset(SSL_new(client_ctx));
    server.reset(SSL_new(server_ctx));
    BIO *a = nullptr, *b = nullptr;
    BIO_new_bio_pair(&a, 0, &b, 0);
    SSL_set_bio(client.get(), a, a);
    SSL_set_bio(server.get(), b, b);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    if (host != nullptr) {
      SSL_set_tlsext_host_name(client.get(), host);
      SSL_set1_host(client.get(), host);
    }
  }

  // Steps both sides until both finish or one fails.
  bool run() {
    for (int i = 0; i < 50; ++i) {
      int c = SSL_do_handshake(client.get());
      int s = SSL_do_handshake(server.get());
      if (c == 1 && s == 1) return true;
      int ce = SSL_get_error(client.get(), c), se = SSL_get_error(server.get(), s);
      bool c_waits = c == 1 || ce == SSL_ERROR_WANT_READ || ce == SSL_ERROR_WANT_WRITE;
      bool s_waits = s == 1 || se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE;
      if (!c_waits || !s_waits) return false;
    }
    return false;
  }
};

TEST(TlsContext, HandshakeNegotiatesTls13AndVerifiesTheServerName) {
  TestPki pki;
  std::string error;
  auto server = makeServerContext(serverOptions(pki), error);
  ASSERT_TRUE(server) << error;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server.get()), TLS1_2_VERSION);
  auto client = makeClientContext(clientOptions(pki.ca_cert), error);
  ASSERT_TRUE(client) << error;

  Handshake ok(client.get(), server.get(), "localhost");
  ASSERT_TRUE(ok.run()) << takeOpensslErrors();
  EXPECT_STREQ(SSL_get_version(ok.client.get()), "TLSv1.3");
  EXPECT_EQ(SSL_get_verify_result(ok.client.get()), X509_V_OK);

  Handshake wrong_name(client.get(), server.get(), "wrong.example");
  EXPECT_FALSE(wrong_name.run());
  EXPECT_EQ(SSL_get_verify_result(wrong_name.client.get()), X509_V_ERR_HOSTNAME_MISMATCH);

  auto strangers = makeClientContext(clientOptions(pki.other_ca_cert), error);
  ASSERT_TRUE(strangers) << error;
  Handshake untrusted(strangers.get(), server.get(), "localhost");
  EXPECT_FALSE(untrusted.run());
  takeOpensslErrors();
}

TEST(TlsContext, MinimumVersionIsEnforced) {
  TestPki pki;
  std::string error;
  auto o = serverOptions(pki);
  o.min_version = "1.3";
  auto server = makeServerContext(o, error);
  ASSERT_TRUE(server) << error;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server.get()), TLS1_3_VERSION);
  auto client = makeClientContext(clientOptions(pki.ca_cert), error);
  SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
  Handshake old(client.get(), server.get(), "localhost");
  EXPECT_FALSE(old.run());
  takeOpensslErrors();
}

TEST(TlsContext, ClientCertificatesAreRequiredWhenACaIsGiven) {
  TestPki pki;
  std::string error;
  auto o = serverOptions(pki);
  o.ca = pki.ca_cert;
  auto server = makeServerContext(o, error);
  ASSERT_TRUE(server) << error;

  auto anonymous = makeClientContext(clientOptions(pki.ca_cert), error);
  Handshake refused(anonymous.get(), server.get(), "localhost");
  EXPECT_FALSE(refused.run() && SSL_get_peer_certificate(refused.server.get()) != nullptr);
  takeOpensslErrors();

  auto with_cert =
      makeClientContext(clientOptions(pki.ca_cert, pki.client_cert, pki.client_key), error);
  ASSERT_TRUE(with_cert) << error;
  Handshake mutual(with_cert.get(), server.get(), "localhost");
  ASSERT_TRUE(mutual.run()) << takeOpensslErrors();
  X509* peer = SSL_get1_peer_certificate(mutual.server.get());
  ASSERT_NE(peer, nullptr);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "thrum-test-client");
  X509_free(peer);
}

TEST(TlsContext, EveryFailureNamesTheFileOrSetting) {
  TestPki pki;
  std::string error;
  auto o = serverOptions(pki);
  o.cert = pki.dir + "/missing.pem";
  EXPECT_FALSE(makeServerContext(o, error));
  EXPECT_EQ(error.rfind("tls cert " + pki.dir + "/missing.pem: ", 0), 0u) << error;

  o = serverOptions(pki);
  o.key = pki.client_key;  // a real key, but not this certificate's
  EXPECT_FALSE(makeServerContext(o, error));
  EXPECT_EQ(error.rfind("tls key " + pki.client_key, 0), 0u) << error;
  EXPECT_NE(error.find("mismatch"), std::string::npos) << error;

  o = serverOptions(pki);
  std::ofstream(pki.dir + "/garbage.pem") << "not a certificate\n";
  o.cert = pki.dir + "/garbage.pem";
  EXPECT_FALSE(makeServerContext(o, error));
  EXPECT_EQ(error.rfind("tls cert " + pki.dir + "/garbage.pem: ", 0), 0u) << error;

  o = serverOptions(pki);
  o.ciphers = "NO-SUCH-CIPHER";
  EXPECT_FALSE(makeServerContext(o, error));
  EXPECT_EQ(error.rfind("tls ciphers 'NO-SUCH-CIPHER'", 0), 0u) << error;

  o = serverOptions(pki);
  o.ca = pki.dir + "/no-ca.pem";
  EXPECT_FALSE(makeServerContext(o, error));
  EXPECT_EQ(error.rfind("tls ca " + pki.dir + "/no-ca.pem", 0), 0u) << error;
}

}  // namespace
}  // namespace thrum::transport
