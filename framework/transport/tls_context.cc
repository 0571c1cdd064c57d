#include "thrum/transport/tls_context.h"

#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace thrum::transport {
namespace {

bool failed(std::string& error, const std::string& what) {
  std::string reason = takeOpensslErrors();
  error = what + (reason.empty() ? "" : ": " + reason);
  return false;
}

// A fresh context with a clean error queue, its minimum version set and
// OpenSSL's buffers released while idle; null with `error` set otherwise.
SslContext newContext(const SSL_METHOD* method, const std::string& min_version,
                      std::string& error) {
  takeOpensslErrors();
  SslContext ctx(SSL_CTX_new(method), SSL_CTX_free);
  if (!ctx) {
    failed(error, "tls: cannot create a context");
    return nullptr;
  }
  int v = min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx.get(), v) != 1) {
    failed(error, "tls min_version " + min_version);
    return nullptr;
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool loadCertAndKey(SSL_CTX* ctx, const std::string& cert, const std::string& key,
                    std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return failed(error, "tls cert " + cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return failed(error, "tls key " + key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    takeOpensslErrors();
    error = "tls key " + key + " does not match certificate " + cert;
    return false;
  }
  return true;
}

}  // namespace

std::string takeOpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::string reason;
    if (ERR_SYSTEM_ERROR(e)) {
      reason = std::strerror(ERR_GET_REASON(e));  // the errno behind a failed open()
    } else if (const char* text = ERR_reason_error_string(e)) {
      reason = text;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      reason = buf;
    }
    // OpenSSL stacks the same cause at several levels; say it once.
    if (reason == "system lib" || out.find(reason) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}

SslContext makeServerContext(const endpoint::TlsServerOptions& options, std::string& error) {
  SslContext ctx = newContext(TLS_server_method(), options.min_version, error);
  if (!ctx) return nullptr;
  SSL_CTX* c = ctx.get();
  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(c, options.ciphers.c_str()) != 1) {
    failed(error, "tls ciphers '" + options.ciphers + "'");
    return nullptr;
  }
  if (!loadCertAndKey(c, options.cert, options.key, error)) return nullptr;
  if (!options.ca.empty()) {
    if (SSL_CTX_load_verify_locations(c, options.ca.c_str(), nullptr) != 1) {
      failed(error, "tls ca " + options.ca);
      return nullptr;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // A client may not renegotiate (TLS 1.2; 1.3 has no renegotiation): each
  // one costs the server a full handshake on its I/O thread. OpenSSL answers
  // the attempt with a no_renegotiation alert, which TlsSession reports.
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  static const unsigned char kSessionContext[] = "thrum";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof(kSessionContext) - 1);
  return ctx;
}

SslContext makeClientContext(const endpoint::TlsClientOptions& options, std::string& error) {
  SslContext ctx = newContext(TLS_client_method(), "1.2", error);
  if (!ctx) return nullptr;
  SSL_CTX* c = ctx.get();
  if (!options.cert.empty() && !loadCertAndKey(c, options.cert, options.key, error)) {
    return nullptr;
  }
  if (options.verify) {
    int ok = options.ca.empty() ? SSL_CTX_set_default_verify_paths(c)
                                : SSL_CTX_load_verify_locations(c, options.ca.c_str(), nullptr);
    if (ok != 1) {
      failed(error, "tls ca " + (options.ca.empty() ? std::string("(system store)") : options.ca));
      return nullptr;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

}  // namespace thrum::transport
