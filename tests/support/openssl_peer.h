// An OpenSSL client over any connected stream socket, speaking framed binary
// Thrift by hand: the peer for what TSSLSocket cannot do (unix sockets,
// session resumption, renegotiation, one-byte records).
//
//   SslCtx ctx = clientContext(pki.ca_cert, TLS1_3_VERSION);
//   OpensslPeer peer(connectTcp(port), ctx.get());
//   EXPECT_TRUE(peer.ping());
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

namespace thrum::testing {

using SslCtx = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

// A client context trusting `ca`, speaking at most TLS `max_version`.
inline SslCtx clientContext(const std::string& ca, int max_version) {
  SslCtx ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

class OpensslPeer {
 public:
  // Connects `fd` (taken over), offering `session` for resumption when given.
  OpensslPeer(int fd, SSL_CTX* ctx, SSL_SESSION* session = nullptr) : fd_(fd) {
    ssl_.reset(SSL_new(ctx));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
    SSL_set1_host(ssl_.get(), "localhost");
    if (session != nullptr) SSL_set_session(ssl_.get(), session);
    connected_ = SSL_connect(ssl_.get()) == 1;
  }
  ~OpensslPeer() {
    if (connected_) SSL_shutdown(ssl_.get());
    ssl_.reset();
    ::close(fd_);
  }
  OpensslPeer(const OpensslPeer&) = delete;
  OpensslPeer& operator=(const OpensslPeer&) = delete;

  bool connected() const { return connected_; }
  bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
  std::string version() const { return SSL_get_version(ssl_.get()); }
  // The session to resume later; in TLS 1.3 the server's tickets arrive
  // after the handshake, so call this after a reply was read.
  SSL_SESSION* session() const { return SSL_get1_session(ssl_.get()); }

  // A framed-binary ping, in one record or in one record per byte; true
  // when a REPLY came back.
  bool ping(bool one_byte_records = false) {
    static const unsigned char kPing[] = {0, 0,   0,   17,  0x80, 1, 0, 1, 0, 0, 0,
                                          4, 'p', 'i', 'n', 'g',  0, 0, 0, 1, 0};
    size_t step = one_byte_records ? 1 : sizeof(kPing);
    for (size_t at = 0; at < sizeof(kPing); at += step) {
      size_t n = 0;
      if (SSL_write_ex(ssl_.get(), kPing + at, step, &n) != 1) return false;
    }
    unsigned char frame[4];
    if (!readFully(frame, 4)) return false;
    size_t len = (size_t{frame[0]} << 24) | (size_t{frame[1]} << 16) | (frame[2] << 8) | frame[3];
    std::string body(len, '\0');
    if (!readFully(body.data(), len)) return false;
    return len > 4 && body[3] == 2;  // message type REPLY
  }

  // Asks for a new handshake on the established connection (TLS 1.2 only);
  // true if the peer went through with it.
  bool renegotiate() {
    if (SSL_renegotiate(ssl_.get()) != 1) return false;
    if (SSL_do_handshake(ssl_.get()) != 1) return false;
    // The server's answer arrives with the next read.
    char byte;
    return SSL_peek(ssl_.get(), &byte, 1) > 0 || SSL_renegotiate_pending(ssl_.get()) == 0;
  }

 private:
  bool readFully(void* out, size_t len) {
    size_t got = 0;
    while (got < len) {
      size_t n = 0;
      if (SSL_read_ex(ssl_.get(), static_cast<char*>(out) + got, len - got, &n) != 1) return false;
      got += n;
    }
    return true;
  }

  int fd_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, SSL_free};
  bool connected_ = false;
};

inline int connectTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

inline int connectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

}  // namespace thrum::testing
