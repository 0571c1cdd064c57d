// OpenSSL 3 contexts for thrum's TLS endpoints, built from the options of an
// endpoint string, with every failure turned into one sentence naming the
// file or setting and OpenSSL's reason.
//
//   std::string error;
//   auto ctx = transport::makeServerContext(endpoint.tls.value(), error);
//   if (!ctx) fail(error);  // "tls cert /etc/x.pem: No such file or directory"
//
// Server contexts: TLS 1.2 minimum unless min_version says 1.3 (1.3 is
// preferred by negotiation), server-side session cache on, OpenSSL's buffers
// released while idle (SSL_MODE_RELEASE_BUFFERS), and, when a CA is given,
// client certificates required and verified against it. Client contexts
// verify the server's chain by default (CA file or the system store); the
// connection sets the name to check (SSL_set1_host). Contexts are immutable
// once built and safe to share between threads.
#pragma once

#include <memory>
#include <string>

#include "thrum/endpoint/endpoint_string.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace thrum::transport {

using SslContext = std::shared_ptr<SSL_CTX>;

SslContext makeServerContext(const endpoint::TlsServerOptions& options, std::string& error);
SslContext makeClientContext(const endpoint::TlsClientOptions& options, std::string& error);

// Drains OpenSSL's error queue for this thread into one line ("" if empty).
std::string takeOpensslErrors();

}  // namespace thrum::transport
