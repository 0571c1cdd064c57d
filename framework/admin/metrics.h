// Named counters and gauges for a running process.
//
// A component looks its counters up once, at construction, and keeps the
// references; incrementing is one relaxed atomic add. Names are dotted paths
// ("connections.closed.peer_closed"). The admin console and tests read them
// through snapshot().
//
//   Metrics metrics;
//   Counter& accepted = metrics.counter("connections.accepted");
//   accepted.inc();
//   uint64_t n = metrics.value("connections.accepted");
//
// Thread-safe. References stay valid for the registry's life.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace thrum {

// Monotonic count of events.
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A level that goes up and down (open connections, queued calls).
class Gauge {
 public:
  void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Metrics {
 public:
  Counter& counter(std::string_view name);
  Gauge& gauge(std::string_view name);

  // Current value of a counter or gauge; 0 for a name never registered.
  int64_t value(std::string_view name) const;
  // Every counter and gauge by name, sorted.
  std::map<std::string, int64_t> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges_;
};

}  // namespace thrum
