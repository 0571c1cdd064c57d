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
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "framework/config/config.h"
#include "framework/server/server.h"
#include "framework/server/server_settings.h"
#include "services/bench/bench_handler.h"

int main(int argc, char** argv) {
  thrum::holdShutdownSignals();  // before any thread exists, so all inherit it
  thrum::tuneAllocator();
  thrum::ServerOptions options;
  std::vector<std::string> listen{"127.0.0.1:9090"};
  std::string log_level = "info";

  thrum::config::Schema schema("thrum-bench-server", "THRUM_");
  schema
      .list("listen", &listen,
            "endpoint to listen on: HOST:PORT (port 0: any free port), tcp:PORT, unix:PATH, "
            "fd:N, systemd:index=N|name=NAME",
            thrum::endpoint::listenSpecProblem)
      .choice("log-level", &log_level, {"trace", "debug", "info", "warn", "error"}, "log level");
  thrum::addServerSettings(schema, options);
  switch (schema.load(argc, argv, std::cout, std::cerr)) {
    case thrum::config::Outcome::kRun:
      break;
    case thrum::config::Outcome::kExitOk:
      return 0;
    case thrum::config::Outcome::kExitError:
      return 2;
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("thrum"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::info("open file limit {}", thrum::raiseOpenFileLimit());

  auto handler = std::make_shared<thrum::bench::BenchHandler>();
  thrum::Server server(std::make_shared<thrum::bench::BenchProcessor>(handler), options);
  if (!thrum::listenAndStart(server, listen, std::cout, std::cerr)) return 1;
  thrum::runUntilSignal(server);
  return 0;
}
