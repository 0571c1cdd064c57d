#include "thrum/dispatch/lanes.h"

#include <charconv>
#include <stdexcept>

namespace thrum::dispatch {
namespace {

// "NAME key=value key=value": the words of a configuration string.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

// Calls `apply(key, value)` for each "key=value" word after the first;
// `apply` returns what is wrong, or "".
template <typename Apply>
bool eachSetting(const std::vector<std::string_view>& w, const std::string& what, std::string& why,
                 Apply apply) {
  for (size_t i = 1; i < w.size(); ++i) {
    size_t eq = w[i].find('=');
    std::string problem = eq == std::string_view::npos
                              ? "expected key=value, got '" + std::string(w[i]) + "'"
                              : apply(w[i].substr(0, eq), w[i].substr(eq + 1));
    if (!problem.empty()) {
      why = what + ": " + problem;
      return false;
    }
  }
  return true;
}

// Reads `value` as a number in min..max into `out`; returns what is wrong, or "".
template <typename T>
std::string number(std::string_view key, std::string_view value, int64_t min, int64_t max, T& out) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    return std::string(key) + " is not a number: '" + std::string(value) + "'";
  }
  if (n < min || n > max) {
    return std::string(key) + "=" + std::to_string(n) + " is outside " + std::to_string(min) +
           ".." + std::to_string(max);
  }
  out = T(n);
  return "";
}

bool validLaneName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr int64_t kDayMs = 86400 * 1000;

}  // namespace

bool parseLane(std::string_view text, LaneOptions& lane, std::string& why) {
  auto w = words(text);
  std::string what = "lane '" + std::string(text) + "'";
  if (w.empty() || !validLaneName(w[0])) {
    why = what + ": a lane is named by 1-32 of a-z 0-9 _ - first";
    return false;
  }
  LaneOptions out{.name = std::string(w[0])};
  bool ok = eachSetting(w, what, why, [&](std::string_view key, std::string_view value) {
    if (key == "workers") return number(key, value, 1, 4096, out.workers);
    if (key == "queue") return number(key, value, 1, 1 << 24, out.queue);
    return "unknown key '" + std::string(key) + "' (workers, queue)";
  });
  if (ok) lane = std::move(out);
  return ok;
}

bool parseRoute(std::string_view text, MethodRoute& route, std::string& why) {
  auto w = words(text);
  std::string what = "route '" + std::string(text) + "'";
  if (w.empty() || w[0].find('=') != std::string_view::npos) {
    why = what + ": a route begins with a method pattern (method, Service:method, Service:*, *)";
    return false;
  }
  size_t star = w[0].find('*');
  if (star != std::string_view::npos && star != w[0].size() - 1) {
    why = what + ": '*' may only end a pattern";
    return false;
  }
  MethodRoute out;
  out.pattern = std::string(w[0]);
  bool ok = eachSetting(w, what, why, [&](std::string_view key, std::string_view value) {
    if (key == "lane") {
      out.lane = std::string(value);
      return validLaneName(value) ? std::string() : "'" + out.lane + "' is not a lane name";
    }
    if (key == "queue-timeout-ms" || key == "call-timeout-ms") {
      std::chrono::milliseconds timeout{0};
      std::string problem = number(key, value, 0, kDayMs, timeout);
      (key == "queue-timeout-ms" ? out.queue_timeout : out.call_timeout) = timeout;
      return problem;
    }
    return "unknown key '" + std::string(key) + "' (lane, queue-timeout-ms, call-timeout-ms)";
  });
  if (ok) route = std::move(out);
  return ok;
}

std::string lanesProblem(const std::vector<LaneOptions>& lanes,
                         const std::vector<MethodRoute>& routes) {
  std::vector<std::string> names{"default"};
  for (const auto& lane : lanes) {
    for (const auto& n : names) {
      if (n == lane.name) return "lane '" + lane.name + "' is defined twice";
    }
    names.push_back(lane.name);
  }
  for (const auto& route : routes) {
    bool known = false;
    for (const auto& n : names) known = known || n == route.lane;
    if (!known) return "route '" + route.pattern + "' names lane '" + route.lane + "', not defined";
  }
  return "";
}

Lanes::Lanes(Dispatcher& dispatcher, Metrics& metrics, LaneOptions default_lane,
             const std::vector<LaneOptions>& lanes, std::vector<MethodRoute> routes,
             CallTimeouts default_timeouts)
    : fallback_{0, default_timeouts} {
  std::string problem = lanesProblem(lanes, routes);
  if (!problem.empty()) throw std::invalid_argument(problem);
  default_lane.name = "default";
  std::vector<LaneOptions> all{default_lane};
  all.insert(all.end(), lanes.begin(), lanes.end());
  for (const auto& lane : all) {
    pools_.push_back(std::make_unique<WorkerPool>(
        dispatcher, metrics,
        WorkerPoolOptions{
            .name = lane.name, .threads = lane.workers, .queue_capacity = lane.queue}));
  }
  for (auto& r : routes) {
    Compiled c;
    c.wildcard = r.pattern.ends_with('*');
    c.prefix = c.wildcard ? r.pattern.substr(0, r.pattern.size() - 1) : r.pattern;
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i].name == r.lane) c.route.lane = i;
    }
    c.route.timeouts.queue = r.queue_timeout.value_or(default_timeouts.queue);
    c.route.timeouts.call = r.call_timeout.value_or(default_timeouts.call);
    routes_.push_back(std::move(c));
  }
}

Lanes::Route Lanes::route(std::string_view method) const {
  for (const auto& c : routes_) {
    if (c.wildcard ? method.starts_with(c.prefix) : method == c.prefix) return c.route;
  }
  return fallback_;
}

std::chrono::milliseconds Lanes::shortestCallTimeout() const {
  std::chrono::milliseconds shortest = fallback_.timeouts.call;
  for (const auto& c : routes_) {
    auto t = c.route.timeouts.call;
    if (t.count() > 0 && (shortest.count() == 0 || t < shortest)) shortest = t;
  }
  return shortest;
}

void Lanes::start() {
  for (auto& p : pools_) p->start();
}

bool Lanes::stop(WorkerPool::Clock::time_point deadline) {
  bool all = true;
  for (auto& p : pools_) all = p->stop(deadline) && all;
  return all;
}

std::vector<WorkerPool::Running> Lanes::running() const {
  std::vector<WorkerPool::Running> out;
  for (const auto& p : pools_) {
    auto r = p->running();
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

}  // namespace thrum::dispatch
