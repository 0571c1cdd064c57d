// thrum-bench-server: the Bench service on thrum.
//
//   thrum-bench-server --listen 127.0.0.1:0 --io-threads 2 --workers 4
//
// Prints "listening on ADDR:PORT" (or "listening on unix:PATH") for each
// endpoint on stdout once it accepts, and drains on SIGTERM or SIGINT.
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "framework/server/server.h"
#include "services/bench/bench_handler.h"

int main(int argc, char** argv) {
  thrum::tuneAllocator();
  CLI::App app{"thrum-bench-server: the Bench service on thrum"};
  std::vector<std::string> listen{"127.0.0.1:9090"};
  thrum::ServerOptions options;
  int drain_ms = static_cast<int>(options.drain_timeout.count());
  std::string log_level = "info";
  app.add_option("--listen", listen,
                 "endpoint to listen on: HOST:PORT (port 0: any free port), tcp:PORT, "
                 "unix:PATH, fd:N, systemd:index=N|name=NAME; repeatable")
      ->capture_default_str();
  app.add_option("--io-threads", options.io_threads, "I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--workers", options.workers, "worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--queue", options.queue, "calls waiting for a worker before 'overloaded'")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--max-message-bytes", options.max_message_bytes, "largest request accepted")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 30));
  app.add_option("--max-in-flight", options.max_in_flight_per_connection,
                 "calls per connection before reading pauses")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--drain-timeout-ms", drain_ms, "how long stop waits for in-flight calls")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("thrum"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  options.drain_timeout = std::chrono::milliseconds(drain_ms);

  // Every endpoint is checked before anything is opened.
  std::vector<thrum::endpoint::ListenEndpoint> endpoints;
  bool bad = false;
  for (const auto& text : listen) {
    std::string error;
    auto endpoint = thrum::endpoint::parseListenSpec(text, error);
    if (!endpoint) {
      std::cerr << "--listen: " << error << "\n";
      bad = true;
      continue;
    }
    endpoints.push_back(*endpoint);
  }
  if (bad) return 2;

  spdlog::info("open file limit {}", thrum::raiseOpenFileLimit());
  auto handler = std::make_shared<thrum::bench::BenchHandler>();
  thrum::Server server(std::make_shared<thrum::bench::BenchProcessor>(handler), options);
  for (const auto& endpoint : endpoints) {
    std::string error;
    if (server.listen(endpoint, &error)) {
      std::cerr << "--listen: " << error << "\n";
      return 1;
    }
  }
  server.start();
  for (const auto& where : server.listeningOn()) std::cout << "listening on " << where << "\n";
  std::cout.flush();
  thrum::runUntilSignal(server);
  return 0;
}
