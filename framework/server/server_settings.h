// The ServerOptions an operator sets, as configuration keys (flags, TOML
// keys, THRUM_* variables) of a service binary's schema, so every thrum
// service spells them the same:
//
//   thrum::ServerOptions options;
//   thrum::config::Schema schema("my-service", "THRUM_");
//   thrum::addServerSettings(schema, options);   // io-threads, workers, timeouts, ...
#pragma once

#include "framework/config/config.h"
#include "framework/server/server.h"

namespace thrum {

void addServerSettings(config::Schema& schema, ServerOptions& options);

}  // namespace thrum
