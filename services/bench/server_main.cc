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
#include "services/bench/bench_handler.h"

int main(int argc, char** argv) {
  thrum::holdShutdownSignals();  // before any thread exists, so all inherit it
  thrum::tuneAllocator();
  thrum::ServerOptions options;
  std::vector<std::string> listen{"127.0.0.1:9090"};
  int drain_ms = static_cast<int>(options.drain_timeout.count());
  std::string log_level = "info";

  thrum::config::Schema schema("thrum-bench-server", "THRUM_");
  schema
      .list("listen", &listen,
            "endpoint to listen on: HOST:PORT (port 0: any free port), tcp:PORT, unix:PATH, "
            "fd:N, systemd:index=N|name=NAME",
            thrum::endpoint::listenSpecProblem)
      .integer("io-threads", &options.io_threads, 1, 256, "I/O threads")
      .integer("workers", &options.workers, 1, 4096, "worker threads")
      .integer("queue", &options.queue, 1, 1 << 24,
               "calls waiting for a worker before callers are told 'overloaded'")
      .integer("max-message-bytes", &options.max_message_bytes, 64, 1 << 30,
               "largest request accepted")
      .integer("max-in-flight", &options.max_in_flight_per_connection, 1, 1 << 20,
               "calls per connection before reading from it pauses")
      .integer("drain-timeout-ms", &drain_ms, 0, 3600 * 1000,
               "how long a stop waits for in-flight calls")
      .choice("log-level", &log_level, {"trace", "debug", "info", "warn", "error"}, "log level");
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
  options.drain_timeout = std::chrono::milliseconds(drain_ms);
  spdlog::info("open file limit {}", thrum::raiseOpenFileLimit());

  auto handler = std::make_shared<thrum::bench::BenchHandler>();
  thrum::Server server(std::make_shared<thrum::bench::BenchProcessor>(handler), options);
  if (!thrum::listenAndStart(server, listen, std::cout, std::cerr)) return 1;
  thrum::runUntilSignal(server);
  return 0;
}
