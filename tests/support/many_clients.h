// Many loopback clients at once, on one thread, for tests that need a crowd:
// a thousand connections calling while something else goes wrong, or a
// thousand bad logins. Raw bytes in, raw bytes out; no stock client per
// connection (a thousand threads would measure the test, not the server).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/clients.h"

namespace thrum::testing {

struct CrowdResult {
  size_t rounds = 0;  // request sent and every reply read back whole
  size_t failed = 0;  // connections that failed to connect or were cut off
};

// Opens `connections` connections to 127.0.0.1:`port`; each sends `request`
// (`replies` framed calls) and reads `replies` framed replies, `rounds`
// times. Gives up after `limit`, counting unfinished connections as failed.
CrowdResult runCrowd(uint16_t port, size_t connections, const std::string& request, size_t replies,
                     size_t rounds, std::chrono::milliseconds limit = std::chrono::seconds(60));

// Opens `connections` connections at once, sends `bytes` on each, and
// returns what each read until the server closed it (within `limit`).
std::vector<std::string> sendFromMany(uint16_t port, size_t connections, const std::string& bytes,
                                      std::chrono::milliseconds limit = std::chrono::seconds(60));

// Stock clients calling ping in a loop on threads of their own until
// destroyed, counting answers and failures: the bystanders a fault must
// not disturb.
class Bystanders {
 public:
  Bystanders(uint16_t port, size_t clients);
  ~Bystanders();
  // Waits until every bystander has made `n` more calls (false on timeout).
  bool waitForCalls(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  size_t calls() const { return calls_.load(); }
  size_t failures() const { return failures_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<size_t> calls_{0};
  std::atomic<size_t> failures_{0};
  std::vector<std::thread> threads_;
};

}  // namespace thrum::testing
