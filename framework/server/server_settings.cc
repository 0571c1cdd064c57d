#include "thrum/server/server_settings.h"

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "thrum/endpoint/host_port.h"
#include "thrum/transport/sasl_server.h"
#include "thrum/transport/tls_context.h"

namespace thrum {
namespace {

// What is wrong with a --listen value: its grammar, and everything about
// its TLS and SASL settings that can be found out without binding (the
// certificate, key and CA load and match; every mechanism is installed;
// the sasldb and keytab can be read), so that --check-config and start-up
// refuse a deployment that listen() would refuse later.
Status listenProblem(const std::string& spec) {
  std::string why;
  auto endpoint = endpoint::parseListenSpec(spec, why);
  if (!endpoint || (endpoint->isTls() && !transport::makeServerContext(*endpoint->tls, why)) ||
      (endpoint->sasl && !transport::sasl::checkServerOptions(*endpoint->sasl, why))) {
    return Status::failure(why);
  }
  return {};
}

// A typed list's parser from one of the dispatch/lanes.h parsers.
template <typename T>
std::function<Status(std::string_view, T&)> parserOf(bool (*parse)(std::string_view, T&,
                                                                   std::string&)) {
  return [parse](std::string_view text, T& parsed) {
    std::string why;
    if (parse(text, parsed, why)) return Status();
    return Status::failure(why);
  };
}

}  // namespace

void addServiceSettings(config::Schema& schema, ServiceSettings& settings) {
  constexpr int64_t kDay = 86400 * 1000;
  ServerOptions& o = settings.server;
  schema
      .list("listen", &settings.listen,
            "endpoint to listen on: HOST:PORT (port 0: any free port), tcp:, unix:, fd:, systemd:, "
            "tls:..., with sasl=... on any",
            listenProblem)
      .choice("log-level", &settings.log_level, {"trace", "debug", "info", "warn", "error"},
              "log level")
      .integer("io-threads", &o.io_threads, 1, 256, "I/O threads")
      .integer("workers", &o.workers, 1, 4096, "worker threads")
      .integer("queue", &o.queue, 1, 1 << 24,
               "calls waiting for a worker before callers are told 'overloaded'")
      .integer("max-message-bytes", &o.max_message_bytes, 64, 1 << 30, "largest request accepted")
      .integer("max-in-flight", &o.max_in_flight_per_connection, 1, 1 << 20,
               "calls per connection before reading from it pauses")
      .integer("max-reply-bytes", &o.max_reply_bytes_per_connection, 1024, int64_t{1} << 32,
               "reply bytes a connection may leave unread before reading from it pauses")
      .integer("max-buffered-bytes", &o.max_buffered_bytes, 0, int64_t{1} << 40,
               "request and reply bytes the server holds at once; past it the heaviest "
               "connections stop being read and their new calls are answered 'memory' (0: no "
               "limit)")
      .integer("max-connections", &o.max_connections, 0, 1 << 24,
               "connections held at once; more are refused (0: no limit)")
      .integer("max-connections-per-address", &o.max_connections_per_address, 0, 1 << 24,
               "connections from one peer address (one user on a unix socket) (0: no limit)")
      .integer("max-connections-per-principal", &o.max_connections_per_principal, 0, 1 << 24,
               "connections of one SASL principal (0: no limit)")
      .milliseconds("queue-timeout-ms", &o.queue_timeout, kDay,
                    "a call waiting this long for a worker is answered queue_timeout (0: never)")
      .milliseconds("call-timeout-ms", &o.call_timeout, kDay,
                    "a call not answered this long after it arrived is answered call_timeout, "
                    "its late result dropped (0: never)")
      .milliseconds("retry-after-ms", &o.retry_after, kDay,
                    "the retry hint sent with overload answers")
      .list("lane", &o.lanes, "another worker pool: 'NAME workers=N queue=N' (see --route)",
            parserOf(&dispatch::parseLane))
      .list("route", &o.routes,
            "which lane and timeouts methods get: 'PATTERN lane=NAME queue-timeout-ms=N "
            "call-timeout-ms=N', PATTERN being method, Service:method, Service:* or *; the first "
            "match decides",
            parserOf(&dispatch::parseRoute))
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
                                       ServiceSettings& settings, const char* logger) {
  switch (schema.load(argc, argv, std::cout, std::cerr)) {
    case config::Outcome::kRun:
      break;
    case config::Outcome::kExitOk:
      return 0;
    case config::Outcome::kExitError:
      return 2;
  }
  // Each lane and route was parsed as it loaded; what remains is how they fit together.
  const ServerOptions& o = settings.server;
  if (std::string problem = dispatch::lanesProblem(o.lanes, o.routes); !problem.empty()) {
    std::cerr << "--lane/--route: " << problem << "\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt(logger));
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  return std::nullopt;
}

}  // namespace thrum
