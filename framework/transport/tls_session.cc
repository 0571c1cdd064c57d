#include "framework/transport/tls_session.h"

#include "framework/transport/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace thrum::transport {

TlsSession::TlsSession(SSL_CTX* ctx) : ssl_(SSL_new(ctx)) {
  SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

void TlsSession::receive(std::span<const uint8_t> ciphertext) {
  BIO_write(SSL_get_rbio(ssl_), ciphertext.data(), static_cast<int>(ciphertext.size()));
}

TlsSession::Result TlsSession::fail(int ret) {
  int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_WANT_READ) return Result::kWantInput;
  if (e == SSL_ERROR_ZERO_RETURN) return Result::kClosed;
  std::string reason = takeOpensslErrors();
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK)
    reason += (reason.empty() ? "" : "; ") + std::string(X509_verify_cert_error_string(verify));
  error_ = reason.empty() ? "TLS error " + std::to_string(e) : reason;
  return Result::kError;
}

TlsSession::Result TlsSession::handshake() {
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return Result::kOk;
  }
  return fail(ret);
}

TlsSession::Result TlsSession::read(std::string& plain) {
  char buf[16 * 1024];
  for (;;) {
    size_t n = 0;
    int ret = SSL_read_ex(ssl_, buf, sizeof(buf), &n);
    if (ret == 1) {
      plain.append(buf, n);
      continue;
    }
    Result r = fail(ret);
    return r == Result::kWantInput ? Result::kOk : r;
  }
}

TlsSession::Result TlsSession::write(std::string_view plain) {
  size_t written = 0;
  if (SSL_write_ex(ssl_, plain.data(), plain.size(), &written) == 1) return Result::kOk;
  return fail(0);
}

void TlsSession::takeOutput(std::string& out) {
  BIO* wbio = SSL_get_wbio(ssl_);
  size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return;
  size_t at = out.size();
  out.resize(at + pending);
  int n = BIO_read(wbio, out.data() + at, static_cast<int>(pending));
  out.resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
}

std::string TlsSession::version() const {
  return SSL_get_version(ssl_);
}

std::string TlsSession::peerSubject() const {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return "";
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
  return subject;
}

}  // namespace thrum::transport
