// thrum-bench-server: the Bench service on thrum.
//
//   thrum-bench-server --listen 127.0.0.1:0 --io-threads 2 --workers 4
//
// Every setting is also a TOML key (--config FILE) and an environment
// variable (THRUM_WORKERS, ...); --help lists them, --check-config prints the
// effective configuration. Prints "listening on ADDR:PORT" (or "listening on
// unix:PATH") for each endpoint on stdout once it accepts, and drains on
// SIGTERM or SIGINT.
#include <iostream>

#include <spdlog/spdlog.h>

#include "framework/server/server.h"
#include "framework/server/server_settings.h"
#include "services/bench/bench_handler.h"

int main(int argc, char** argv) {
  thrum::holdShutdownSignals();  // before any thread exists, so all inherit it
  thrum::tuneAllocator();
  thrum::ServiceSettings settings;
  settings.listen = {"127.0.0.1:9090"};
  thrum::config::Schema schema("thrum-bench-server", "THRUM_");
  thrum::addServiceSettings(schema, settings);
  if (auto code = thrum::loadServiceSettings(schema, argc, argv, settings, "thrum")) return *code;
  spdlog::info("open file limit {}", thrum::endpoint::raiseOpenFileLimit());

  auto handler = std::make_shared<thrum::bench::BenchHandler>();
  thrum::Server server(std::make_shared<thrum::bench::BenchProcessor>(handler), settings.server);
  if (!thrum::listenAndStart(server, settings.listen, std::cout, std::cerr)) return 1;
  thrum::runUntilSignal(server);
  return 0;
}
