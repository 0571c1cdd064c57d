#include "thrum/admin/metrics.h"

namespace thrum {
namespace {

template <typename T, typename Map>
T& findOrAdd(Map& map, std::string_view name) {
  auto it = map.find(name);
  if (it == map.end()) it = map.emplace(std::string(name), std::make_unique<T>()).first;
  return *it->second;
}

}  // namespace

Counter& Metrics::counter(std::string_view name) {
  std::lock_guard lock(mu_);
  return findOrAdd<Counter>(counters_, name);
}

Gauge& Metrics::gauge(std::string_view name) {
  std::lock_guard lock(mu_);
  return findOrAdd<Gauge>(gauges_, name);
}

int64_t Metrics::value(std::string_view name) const {
  std::lock_guard lock(mu_);
  if (auto it = counters_.find(name); it != counters_.end()) {
    return static_cast<int64_t>(it->second->value());
  }
  if (auto it = gauges_.find(name); it != gauges_.end()) return it->second->value();
  return 0;
}

std::map<std::string, int64_t> Metrics::snapshot() const {
  std::lock_guard lock(mu_);
  std::map<std::string, int64_t> out;
  for (const auto& [name, c] : counters_) out[name] = static_cast<int64_t>(c->value());
  for (const auto& [name, g] : gauges_) out[name] = g->value();
  return out;
}

}  // namespace thrum
