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
//   "Tiles:render call-timeout-ms=30000"
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "thrum/admin/metrics.h"
#include "thrum/dispatch/dispatcher.h"
#include "thrum/dispatch/worker_pool.h"

namespace thrum::dispatch {

struct LaneOptions {
  std::string name{};
  size_t workers = 1;
  size_t queue = 1024;
};

struct MethodRoute {
  std::string pattern{};
  std::string lane = "default";
  // Unset: the server's default (ServerOptions::queue_timeout,
  // ::call_timeout). Zero: none.
  std::optional<std::chrono::milliseconds> queue_timeout{};
  std::optional<std::chrono::milliseconds> call_timeout{};
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
    CallTimeouts timeouts;
  };

  // `lanes` adds to "default", whose threads and queue are `default_lane`'s;
  // a method no route matches, and a route's unset timeouts, get
  // `default_timeouts`. Throws std::invalid_argument with lanesProblem()'s text.
  Lanes(Dispatcher& dispatcher, Metrics& metrics, LaneOptions default_lane,
        const std::vector<LaneOptions>& lanes, std::vector<MethodRoute> routes,
        CallTimeouts default_timeouts);

  // Where a call to `method` goes. Any thread.
  Route route(std::string_view method) const;

  // The shortest call timeout any method has (zero: none has one).
  std::chrono::milliseconds shortestCallTimeout() const;

  size_t size() const { return pools_.size(); }
  WorkerPool& pool(size_t lane) { return *pools_[lane]; }

  void start();
  // Stops every pool (WorkerPool::stop()); false if a handler is still
  // running at `deadline`.
  bool stop(WorkerPool::Clock::time_point deadline = WorkerPool::Clock::time_point::max());
  // The calls running in every lane.
  std::vector<WorkerPool::Running> running() const;

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
