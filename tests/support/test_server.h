// A thrum Server on 127.0.0.1 port 0 running the test handler, started in
// the constructor and stopped in the destructor.
#pragma once

#include <memory>
#include <string_view>

#include "tests/support/test_handler.h"
#include "thrum/server/server.h"

namespace thrum::testing {

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {},
                      std::shared_ptr<apache::thrift::TProcessor> processor = nullptr)
      : handler(std::make_shared<TestHandler>()) {
    if (!processor) processor = std::make_shared<bench::BenchProcessor>(handler);
    server = std::make_unique<Server>(std::move(processor), options);
    server->listen("tcp:port=0:interface=127.0.0.1").orThrow();
    server->start();
  }
  ~TestServer() {
    handler->gate.release();  // never leave a worker held at teardown
    (void)server->stop();
  }

  uint16_t port() const { return server->port(); }
  int64_t metric(std::string_view name) const { return server->metrics().value(name); }

  std::shared_ptr<TestHandler> handler;
  std::unique_ptr<Server> server;
};

}  // namespace thrum::testing
