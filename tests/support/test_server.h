// TestServer: a thrum Server running the test handler on 127.0.0.1 port 0,
// started in the constructor and stopped in the destructor. The one server
// fixture of the tests; those that need TLS or SASL say so through the
// endpoint strings below, and keep what the strings point at (a TestPki, a
// Sasldb) in a base listed before TestServer, so it outlives the server:
//
//   struct TlsServer : WithPki, TestServer {
//     TlsServer() : TestServer({}, {tlsEndpoint(pki)}) {}
//   };
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/sasldb.h"
#include "tests/support/test_handler.h"
#include "tests/support/test_pki.h"
#include "thrum/server/server.h"

namespace thrum::testing {

inline constexpr const char* kLoopbackPort0 = "tcp:port=0:interface=127.0.0.1";

class TestServer {
 public:
  // One plain TCP endpoint.
  explicit TestServer(ServerOptions options = {},
                      std::shared_ptr<apache::thrift::TProcessor> processor = nullptr)
      : TestServer(options, {kLoopbackPort0}, std::move(processor)) {}
  // These endpoints, in order: port(i) is the i-th.
  TestServer(ServerOptions options, const std::vector<std::string>& endpoints,
             std::shared_ptr<apache::thrift::TProcessor> processor = nullptr)
      : handler(std::make_shared<TestHandler>()) {
    if (!processor) processor = std::make_shared<bench::BenchProcessor>(handler);
    server = std::make_unique<Server>(std::move(processor), options);
    for (const auto& spec : endpoints) listen(spec);
    server->start();
  }
  ~TestServer() {
    handler->gate.release();  // never leave a worker held at teardown
    (void)server->stop();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  void listen(const std::string& spec) { server->listen(spec).orThrow(); }
  uint16_t port(size_t i = 0) const { return server->port(i); }
  int64_t metric(std::string_view name) const { return server->metrics().value(name); }

  std::shared_ptr<TestHandler> handler;
  std::unique_ptr<Server> server;
};

// What a TLS or SASL endpoint points at, held ahead of the server.
struct WithPki {
  TestPki pki;
};
struct WithSasldb {
  Sasldb db;
};

// A TLS endpoint with the test PKI's server certificate; `extra` adds keys
// (":ca=..." for client certificates).
inline std::string tlsEndpoint(const TestPki& pki, std::string_view extra = "") {
  return "tls:port=0:interface=127.0.0.1:cert=" + pki.server_cert + ":key=" + pki.server_key +
         std::string(extra);
}

// SASL required on `base` (plain TCP on port 0 unless said), with `mechs`
// checked against `db` (realm kRealm, server name localhost).
inline std::string saslEndpoint(const Sasldb& db, std::string_view mechs,
                                std::string_view base = kLoopbackPort0) {
  return std::string(base) + ":sasl=required:mechs=" + std::string(mechs) + ":sasldb=" + db.path +
         ":realm=" + kRealm + ":hostname=localhost";
}

}  // namespace thrum::testing
