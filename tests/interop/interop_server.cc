// The server the third-party interop clients call (Java, Python): the
// Interop service on thrum, on the endpoints named by --listen.
//
//   interop_server --listen 'tcp:0:sasl=required:mechs=PLAIN:sasldb=db' ...
//
// Prints "listening on ADDR" per endpoint, serves until SIGTERM.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "Interop.h"
#include "thrum/dispatch/call_context.h"
#include "thrum/server/server.h"

namespace {

class InteropHandler : public thrum::interop::InteropIf {
 public:
  void whoami(std::string& out) override {
    const thrum::ConnectionSecurity& c = thrum::CallContext::current()->connection().security();
    out = c.principal + " " + c.sasl_mechanism + " " + c.sasl_qop;
  }
  void echo(std::string& out, const std::string& payload) override { out = payload; }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"interop_server: the Interop service for third-party client tests"};
  std::vector<std::string> listen;
  app.add_option("--listen", listen, "endpoint string (repeatable)")->required();
  CLI11_PARSE(app, argc, argv);
  thrum::holdShutdownSignals();
  thrum::Server server(
      std::make_shared<thrum::interop::InteropProcessor>(std::make_shared<InteropHandler>()));
  if (thrum::Status started = thrum::listenAndStart(server, listen, std::cout); !started) {
    std::cerr << "--listen: " << started.message() << "\n";
    return 2;
  }
  thrum::runUntilSignal(server);
  return 0;
}
