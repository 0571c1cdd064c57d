// The Bench service's handler: the smallest useful work for each call, so
// benchmarks measure the framework, not the handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "Bench.h"

namespace thrum::bench {

class BenchHandler : public BenchIf {
 public:
  void ping() override {}
  void echo(std::string& out, const std::string& payload) override { out = payload; }
  // Busy-loops about `micros` microseconds of wall time on this worker and
  // returns how many iterations that took (never sleeps: it models CPU work).
  // Anything outside 0..kMaxWorkMicros is refused (the caller gets a
  // TApplicationException saying so): the demo endpoints take it unauthenticated.
  int64_t work(int32_t micros) override;
  static constexpr int32_t kMaxWorkMicros = 1'000'000;
  void fire(const std::string& payload) override;

  uint64_t fired() const { return fired_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> fired_{0};
};

}  // namespace thrum::bench
