// A service binary's whole life in one call: thrum::serve().
//
//   int main(int argc, char** argv) {
//     return thrum::serve(argc, argv, {
//         .name = "echo-server",
//         .listen = {"127.0.0.1:9090"},
//         .processor = [](const thrum::ServiceSettings&) {
//           return std::make_shared<EchoProcessor>(std::make_shared<EchoHandler>());
//         }});
//   }
//
// In this order, which is why it is one call:
//   1. SIGINT, SIGTERM and SIGHUP are held, before any thread exists, so a
//      signal during start-up waits for step 8 instead of killing the process;
//   2. the allocator is tuned for cross-thread buffers (tuneAllocator());
//   3. the configuration is loaded: thrum's settings (listen, workers,
//      timeouts, ...: server_settings.h) and the service's own (`settings`),
//      each a flag, a TOML key (--config FILE) and a THRUM_* variable;
//      every problem is printed; --help and --check-config exit here;
//   4. the open-file limit is raised to the hard limit and logged;
//   5. `processor` builds the service from the loaded settings;
//   6. `prepare`, if set, sees the Server before it listens (an authorizer);
//   7. every endpoint is opened and the server started; "listening on
//      ADDR" is printed on stdout per endpoint;
//   8. it serves until SIGTERM or SIGINT (SIGHUP reloads TLS certificates),
//      then drains for at most --drain-timeout-ms.
//
// Exit codes (what serve() returns, for main to return):
//   0 stopped by a signal after draining, or --help / --check-config;
//   1 an endpoint could not be opened;
//   2 a configuration problem, or `processor` failed (the reason printed);
//   3 (kExitStuck) handlers still running at the drain deadline: the
//     process leaves without waiting for them.
//
// Several services on one server: return thrum::multiplex({{"Echo", echo},
// {"Admin", admin}}) from `processor`; clients use TMultiplexedProtocol.
// What the service owns beyond its handler (a queue, a cache) can live in
// main() before serve(), and is destroyed after the server has stopped.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <thrift/TProcessor.h>

#include "thrum/config/config.h"
#include "thrum/server/server.h"
#include "thrum/server/server_settings.h"
#include "thrum/status.h"

namespace thrum {

struct Service {
  // The program's name, in --help and on every log line.
  std::string name;
  // Where it listens unless configured otherwise (endpoint strings).
  std::vector<std::string> listen = {"127.0.0.1:9090"};
  // thrum's defaults for this service; the configuration overrides them.
  ServerOptions server = {};
  // The prefix of every environment variable (THRUM_WORKERS, ...).
  std::string env_prefix = "THRUM_";
  // Adds the service's own settings to the one schema; optional.
  std::function<void(config::Schema& schema)> settings = {};
  // Builds the processor once the configuration is loaded and valid. A
  // failure's message is printed and serve() returns 2.
  std::function<Result<std::shared_ptr<apache::thrift::TProcessor>>(
      const ServiceSettings& settings)>
      processor;
  // Sees the server before it listens; optional.
  std::function<void(Server& server)> prepare = {};
};

// Runs `service` as the whole program; returns main's exit code.
int serve(int argc, char** argv, Service service);

// One processor for several services (Thrift's TMultiplexedProcessor): each
// call goes to the processor of the service name a TMultiplexedProtocol
// client put before its method name.
std::shared_ptr<apache::thrift::TProcessor> multiplex(
    std::vector<std::pair<std::string, std::shared_ptr<apache::thrift::TProcessor>>> services);

}  // namespace thrum
