// Lanes: a server's worker pools, and which calls go to which.
//
// Every server has the lane "default" (ServerOptions::workers and ::queue).
// More lanes, each with threads and a queue of its own, keep cheap calls
// (status, cache hits, health checks) from waiting behind expensive ones,
// and routes give methods their lane and queue timeout:
//
//   options.lanes = {{.name = "cheap", .workers = 2, .queue = 256}};
//   options.routes = {{.pattern = "Tiles:status", .lane = "cheap"},
//                     {.pattern = "Tiles:*", .queue_timeout = 2s}};
//
// A route's pattern names methods as the client sends them: one exactly
// ("ping", "Tiles:render"), every method of a multiplexed service
// ("Tiles:*"), or every method ("*"). The first route that matches decides;
// a method no route matches runs in "default" under
// ServerOptions::queue_timeout. As configuration strings (--lane, --route):
//
//   "cheap workers=2 queue=256"
//   "Tiles:status lane=cheap queue-timeout-ms=50"
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/admin/metrics.h"
#include "framework/dispatch/dispatcher.h"
#include "framework/dispatch/worker_pool.h"

namespace thrum::dispatch {

struct LaneOptions {
  std::string name{};
  size_t workers = 1;
  size_t queue = 1024;
};

struct MethodRoute {
  std::string pattern{};
  std::string lane = "default";
  // Unset: the server's default queue timeout. Zero: none.
  std::optional<std::chrono::milliseconds> queue_timeout{};
};

// Parse the configuration forms above; false with `why` naming what is wrong.
bool parseLane(std::string_view text, LaneOptions& lane, std::string& why);
bool parseRoute(std::string_view text, MethodRoute& route, std::string& why);
// What is wrong with lanes and routes taken together (a lane named twice, a
// route to a lane that does not exist), or "".
std::string lanesProblem(const std::vector<LaneOptions>& lanes,
                         const std::vector<MethodRoute>& routes);

class Lanes {
 public:
  struct Route {
    size_t lane = 0;
    std::chrono::milliseconds queue_timeout{0};
  };

  // `lanes` adds to "default", whose threads and queue are `default_lane`'s.
  // Throws std::invalid_argument with lanesProblem()'s text.
  Lanes(Dispatcher& dispatcher, Metrics& metrics, LaneOptions default_lane,
        const std::vector<LaneOptions>& lanes, std::vector<MethodRoute> routes,
        std::chrono::milliseconds default_queue_timeout);

  // Where a call to `method` goes. Any thread.
  Route route(std::string_view method) const;

  size_t size() const { return pools_.size(); }
  WorkerPool& pool(size_t lane) { return *pools_[lane]; }

  void start();
  // Stops every pool (WorkerPool::stop()).
  void stop();

 private:
  struct Compiled {
    std::string prefix;  // whole name, or the part before '*'
    bool wildcard = false;
    Route route;
  };

  std::vector<std::unique_ptr<WorkerPool>> pools_;  // [0] is "default"
  std::vector<Compiled> routes_;
  Route fallback_;
};

}  // namespace thrum::dispatch
