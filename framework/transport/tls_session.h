// TlsSession: the TLS state of one server connection, driven by the
// connection's own reads and writes through memory BIOs. The connection
// keeps its plain-path shape: it reads ciphertext into the I/O thread's
// scratch buffer, hands it over with receive(), and writes whatever
// takeOutput() yields. No socket is touched here.
//
// Not thread-safe; lives on its connection's I/O thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

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

  void receive(std::span<const uint8_t> ciphertext);
  Result handshake();
  bool established() const { return established_; }
  // Appends every byte of plaintext that can be decrypted now to `plain`.
  Result read(std::string& plain);
  // Encrypts `plain`; the records wait in the output.
  Result write(std::string_view plain);
  // Appends pending ciphertext (handshake messages, records, alerts) to `out`.
  void takeOutput(std::string& out);

  const std::string& error() const { return error_; }
  // "TLSv1.3", once established.
  std::string version() const;
  // The client certificate's subject ("CN=...") and SANs, or "" without one.
  std::string peerSubject() const;

 private:
  Result fail(int ret);

  SSL* ssl_;
  bool established_ = false;
  std::string error_;
};

}  // namespace thrum::transport
