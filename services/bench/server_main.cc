// thrum-bench-server: the Bench service on thrum.
//
//   thrum-bench-server --listen 127.0.0.1:0 --io-threads 2 --workers 4
//
// Every setting is also a TOML key (--config FILE) and an environment
// variable (THRUM_WORKERS, ...); --help lists them, --check-config prints the
// effective configuration. Prints "listening on ADDR:PORT" (or "listening on
// unix:PATH") for each endpoint on stdout once it accepts, and drains on
// SIGTERM or SIGINT. Exit codes: thrum::serve() (framework/server/service.h).
#include <memory>

#include "services/bench/bench_handler.h"
#include "thrum/thrum.h"

int main(int argc, char** argv) {
  return thrum::serve(argc, argv,
                      {.name = "thrum-bench-server",
                       .listen = {"127.0.0.1:9090"},
                       .processor = [](const thrum::ServiceSettings&) {
                         return std::make_shared<thrum::bench::BenchProcessor>(
                             std::make_shared<thrum::bench::BenchHandler>());
                       }});
}
