#include "framework/server/server_settings.h"

namespace thrum {

void addServerSettings(config::Schema& schema, ServerOptions& o) {
  constexpr int64_t kDay = 86400 * 1000;
  schema.integer("io-threads", &o.io_threads, 1, 256, "I/O threads")
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

}  // namespace thrum
