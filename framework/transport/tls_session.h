// TlsSession: the TLS state of one server connection, driven by the
// connection's own reads and writes. The connection keeps its plain-path
// shape: it reads ciphertext into the I/O thread's scratch buffer, hands it
// over with receive(), and writes whatever takeOutput() yields. No socket
// is touched here.
//
// Memory while idle: the SSL object reads straight from the span given to
// receive() and writes into a string that takeOutput() hands away, through
// a BIO of our own (no memory BIO whose buffer would keep its largest size),
// and SSL_MODE_RELEASE_BUFFERS lets OpenSSL free its record buffers. An idle
// session holds the SSL object and nothing sized by the traffic it carried.
//
// What OpenSSL keeps a pointer to: the SSL object refers to its SSL_CTX
// (SSL_new takes a reference, so a context replaced by a certificate reload
// lives on until its last session is freed), and the BIO's data pointer and
// the info callback reach this object, which owns the SSL and frees it (and
// with it the BIO) before anything else of its own. Neither copied nor moved.
//
// Not thread-safe; lives on its connection's I/O thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace thrum::transport {

class TlsSession {
 public:
  explicit TlsSession(SSL_CTX* ctx);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Result {
    kOk,         // done (handshake complete / data moved)
    kWantInput,  // needs more ciphertext from the peer
    kClosed,     // the peer sent close_notify
    kError,      // protocol or verification failure; see error()
  };

  // Offers ciphertext. The bytes are read in place: `ciphertext` must stay
  // valid until the next read(), or the next handshake() that does not
  // return kOk; whatever those leave unread is copied then.
  void receive(std::span<const uint8_t> ciphertext);
  Result handshake();
  bool established() const { return established_; }
  // Appends every byte of plaintext that can be decrypted now to `plain`.
  Result read(std::string& plain);
  // Encrypts `plain`; the records wait in the output.
  Result write(std::string_view plain);
  // Appends pending ciphertext (handshake messages, records, alerts) to
  // `out`; the session keeps no buffer for it afterwards.
  void takeOutput(std::string& out);

  const std::string& error() const { return error_; }
  // The peer tried to renegotiate after the handshake, and was refused
  // (SSL_OP_NO_RENEGOTIATION on the server context): close it.
  bool renegotiationRefused() const { return renegotiation_refused_; }
  // "TLSv1.3", once established.
  std::string version() const;
  // Whether the handshake resumed an earlier session (no certificate sent).
  bool resumed() const;
  // The client certificate's subject in RFC 2253 form ("CN=client,O=Example"),
  // or "" without one.
  std::string peerSubject() const;
  // The client certificate's subject alternative names, each as
  // "DNS:host", "IP:addr", "URI:uri" or "email:addr"; empty without one.
  std::vector<std::string> peerAltNames() const;

 private:
  struct Bio;  // the BIO method's callbacks
  // OpenSSL's info callback: notes the no_renegotiation alert it sends.
  static void onInfo(const SSL* ssl, int where, int ret);
  Result fail(int ret);
  void keepUnread();

  SSL* ssl_;
  std::span<const uint8_t> input_;  // offered by receive(), not yet read
  std::string unread_;              // input kept past the span's life
  size_t unread_at_ = 0;
  std::string output_;  // ciphertext until takeOutput()
  bool established_ = false;
  bool renegotiation_refused_ = false;
  std::string error_;
};

}  // namespace thrum::transport
