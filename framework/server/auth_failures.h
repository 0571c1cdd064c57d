// AuthFailures: remembers which peer addresses failed to authenticate, so a
// peer that keeps failing is slowed down: from the fourth failure in a row,
// each new negotiation from that address waits before it runs, 100 ms
// doubling up to 10 s. A success, or ten minutes without a failure, forgets
// the address. At most `capacity` addresses are remembered (the stalest
// goes first), so a flood of addresses cannot grow memory.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace thrum::server {

class AuthFailures {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AuthFailures(size_t capacity = 65536) : capacity_(capacity) {}

  // How long a negotiation from `address` waits before it runs.
  std::chrono::milliseconds delayFor(const std::string& address, Clock::time_point now);
  void failed(const std::string& address, Clock::time_point now);
  void succeeded(const std::string& address);

  size_t size() const;

  static constexpr unsigned kFreeFailures = 3;
  static constexpr std::chrono::milliseconds kFirstDelay{100};
  static constexpr std::chrono::milliseconds kMaxDelay{10000};
  static constexpr std::chrono::minutes kForgetAfter{10};

 private:
  struct Entry {
    unsigned failures = 0;
    Clock::time_point last;
  };

  mutable std::mutex mu_;
  size_t capacity_;
  std::unordered_map<std::string, Entry> peers_;
};

// The address part of a peer as ConnectionInfo names it ("10.0.0.7:5123" ->
// "10.0.0.7", "[::1]:5123" -> "[::1]", "unix:pid=7,uid=1000" -> "unix:uid=1000").
std::string peerAddress(const std::string& peer);

}  // namespace thrum::server
