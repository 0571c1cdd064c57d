// What every thrum service binary configures the same way: where it
// listens, how much it logs, and the ServerOptions an operator sets, as
// configuration keys (flag = TOML key = THRUM_* variable):
//
//   thrum::ServiceSettings settings;
//   settings.listen = {"127.0.0.1:9090"};                 // the default
//   thrum::config::Schema schema("my-service", "THRUM_");
//   thrum::addServiceSettings(schema, settings);   // listen, log-level, io-threads, timeouts, ...
//   schema.integer("my-key", &mine, 0, 10, "...");
//   if (auto code = thrum::loadServiceSettings(schema, argc, argv, settings, "my-service")) {
//     return *code;                                 // --help, --check-config, or a bad value
//   }
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "thrum/config/config.h"
#include "thrum/server/server.h"

namespace thrum {

struct ServiceSettings {
  std::vector<std::string> listen;
  std::string log_level = "info";
  // --lane and --route load straight into server.lanes and server.routes.
  ServerOptions server;
};

void addServiceSettings(config::Schema& schema, ServiceSettings& settings);

// Loads every source of `schema`. Then, to run: the default logger is
// `logger` on stderr at the configured level, and nullopt is returned;
// otherwise the exit code for main (0 after --help or --check-config, 2
// after printing every problem).
std::optional<int> loadServiceSettings(config::Schema& schema, int argc, char** argv,
                                       ServiceSettings& settings, const char* logger);

}  // namespace thrum
