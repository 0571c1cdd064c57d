// waitFor: polls a condition until it holds or a generous timeout passes.
// For state that changes on another thread without a notification (counters).
#pragma once

#include <chrono>
#include <thread>

namespace thrum::testing {

template <typename Predicate>
bool waitFor(Predicate&& predicate, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace thrum::testing
