#include "framework/server/server_settings.h"

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace thrum {

void addServiceSettings(config::Schema& schema, ServiceSettings& settings) {
  constexpr int64_t kDay = 86400 * 1000;
  ServerOptions& o = settings.server;
  schema
      .list("listen", &settings.listen,
            "endpoint to listen on: HOST:PORT (port 0: any free port), tcp:, unix:, fd:, systemd:, "
            "tls:..., with sasl=... on any",
            endpoint::listenSpecProblem)
      .choice("log-level", &settings.log_level, {"trace", "debug", "info", "warn", "error"},
              "log level")
      .integer("io-threads", &o.io_threads, 1, 256, "I/O threads")
      .integer("workers", &o.workers, 1, 4096, "worker threads")
      .integer("queue", &o.queue, 1, 1 << 24,
               "calls waiting for a worker before callers are told 'overloaded'")
      .integer("max-message-bytes", &o.max_message_bytes, 64, 1 << 30, "largest request accepted")
      .integer("max-in-flight", &o.max_in_flight_per_connection, 1, 1 << 20,
               "calls per connection before reading from it pauses")
      .milliseconds("drain-timeout-ms", &o.drain_timeout, kDay,
                    "how long a stop waits for in-flight calls")
      .milliseconds("handshake-timeout-ms", &o.handshake_timeout, kDay,
                    "TLS handshake and SASL negotiation together")
      .milliseconds("idle-timeout-ms", &o.idle_timeout, kDay,
                    "close a connection with nothing to do for this long (0: never)")
      .milliseconds("request-timeout-ms", &o.request_timeout, kDay,
                    "close a connection whose request stops arriving mid-way (0: never)")
      .milliseconds("write-timeout-ms", &o.write_timeout, kDay,
                    "close a connection that takes no reply bytes for this long (0: never)")
      .milliseconds("max-age-ms", &o.max_age, kDay,
                    "a connection this old answers what it has and closes (0: never)")
      .milliseconds("age-grace-ms", &o.age_grace, kDay,
                    "after max-age, how long in-flight calls may take");
}

std::optional<int> loadServiceSettings(config::Schema& schema, int argc, char** argv,
                                       const ServiceSettings& settings, const char* logger) {
  switch (schema.load(argc, argv, std::cout, std::cerr)) {
    case config::Outcome::kRun:
      break;
    case config::Outcome::kExitOk:
      return 0;
    case config::Outcome::kExitError:
      return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt(logger));
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  return std::nullopt;
}

}  // namespace thrum
