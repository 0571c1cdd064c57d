#include "thrum/transport/tls_session.h"

#include <algorithm>
#include <cstring>

#include "thrum/transport/tls_context.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace thrum::transport {

// A source/sink BIO whose data pointer is the session: reads come from the
// span offered by receive() (or the copy keepUnread() made of its rest),
// writes append to the session's output string.
struct TlsSession::Bio {
  static int write(BIO* bio, const char* data, size_t len, size_t* written) {
    auto* s = static_cast<TlsSession*>(BIO_get_data(bio));
    s->output_.append(data, len);
    *written = len;
    return 1;
  }

  static int read(BIO* bio, char* data, size_t len, size_t* read) {
    auto* s = static_cast<TlsSession*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    size_t n = 0;
    if (s->unread_at_ < s->unread_.size()) {
      n = std::min(len, s->unread_.size() - s->unread_at_);
      std::memcpy(data, s->unread_.data() + s->unread_at_, n);
      s->unread_at_ += n;
      if (s->unread_at_ == s->unread_.size()) {
        std::string().swap(s->unread_);
        s->unread_at_ = 0;
      }
    } else if (!s->input_.empty()) {
      n = std::min(len, s->input_.size());
      std::memcpy(data, s->input_.data(), n);
      s->input_ = s->input_.subspan(n);
    } else {
      BIO_set_retry_read(bio);
      *read = 0;
      return 0;
    }
    *read = n;
    return 1;
  }

  static long ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    auto* s = static_cast<TlsSession*>(BIO_get_data(bio));
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return static_cast<long>(s->input_.size() + s->unread_.size() - s->unread_at_);
      case BIO_CTRL_WPENDING:
        return static_cast<long>(s->output_.size());
      default:
        return 0;
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    static const BIO_METHOD* m = [] {
      BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "thrum tls");
      BIO_meth_set_write_ex(made, write);
      BIO_meth_set_read_ex(made, read);
      BIO_meth_set_ctrl(made, ctrl);
      BIO_meth_set_create(made, create);
      return made;
    }();
    return m;
  }
};

TlsSession::TlsSession(SSL_CTX* ctx) : ssl_(SSL_new(ctx)) {
  BIO* bio = BIO_new(Bio::method());
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one reference serves both directions
  SSL_set_info_callback(ssl_, &TlsSession::onInfo);
  SSL_set_accept_state(ssl_);
}

void TlsSession::onInfo(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_WRITE_ALERT) == 0 || (ret & 0xff) != SSL_AD_NO_RENEGOTIATION) return;
  // The BIO's data is the session that owns this SSL.
  auto* session = static_cast<TlsSession*>(BIO_get_data(SSL_get_rbio(ssl)));
  session->renegotiation_refused_ = true;
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

void TlsSession::receive(std::span<const uint8_t> ciphertext) {
  if (unread_.empty()) {
    input_ = ciphertext;
  } else {
    unread_.append(reinterpret_cast<const char*>(ciphertext.data()), ciphertext.size());
  }
}

void TlsSession::keepUnread() {
  if (input_.empty()) return;
  unread_.append(reinterpret_cast<const char*>(input_.data()), input_.size());
  input_ = {};
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
    return Result::kOk;  // the rest of the input is application data for read()
  }
  Result r = fail(ret);
  keepUnread();
  return r;
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
    keepUnread();
    return r == Result::kWantInput ? Result::kOk : r;
  }
}

TlsSession::Result TlsSession::write(std::string_view plain) {
  size_t written = 0;
  if (SSL_write_ex(ssl_, plain.data(), plain.size(), &written) == 1) return Result::kOk;
  return fail(0);
}

void TlsSession::takeOutput(std::string& out) {
  if (out.empty()) {
    out.swap(output_);
  } else {
    out.append(output_);
  }
  std::string().swap(output_);
}

std::string TlsSession::version() const {
  return SSL_get_version(ssl_);
}

bool TlsSession::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

std::string TlsSession::peerSubject() const {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return "";
  BIO* mem = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
  char* text = nullptr;
  long len = BIO_get_mem_data(mem, &text);
  std::string subject(text, static_cast<size_t>(len));
  BIO_free(mem);
  return subject;
}

std::vector<std::string> TlsSession::peerAltNames() const {
  std::vector<std::string> out;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  auto text = [](const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  };
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    switch (name->type) {
      case GEN_DNS:
        out.push_back("DNS:" + text(name->d.dNSName));
        break;
      case GEN_URI:
        out.push_back("URI:" + text(name->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + text(name->d.rfc822Name));
        break;
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
        if (ASN1_STRING_length(ip) != 4 && ASN1_STRING_length(ip) != 16) break;
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf));
        out.push_back(std::string("IP:") + buf);
        break;
      }
      default:
        break;  // directory names, other names: not identities we report
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace thrum::transport
