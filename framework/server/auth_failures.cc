#include "thrum/server/auth_failures.h"

#include <algorithm>

namespace thrum::server {

std::chrono::milliseconds AuthFailures::delayFor(const std::string& address,
                                                 Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(address);
  if (it == peers_.end()) return {};
  if (now - it->second.last > kForgetAfter) {
    peers_.erase(it);
    return {};
  }
  unsigned n = it->second.failures;
  if (n <= kFreeFailures) return {};
  unsigned doublings = std::min(n - kFreeFailures - 1, 16u);
  return std::min(kFirstDelay * (1u << doublings), kMaxDelay);
}

void AuthFailures::failed(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(address);
  if (it == peers_.end()) {
    if (peers_.size() >= capacity_) {
      auto stalest = std::min_element(
          peers_.begin(), peers_.end(),
          [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      peers_.erase(stalest);
    }
    it = peers_.emplace(address, Entry{}).first;
  } else if (now - it->second.last > kForgetAfter) {
    it->second.failures = 0;
  }
  ++it->second.failures;
  it->second.last = now;
}

void AuthFailures::succeeded(const std::string& address) {
  std::lock_guard lock(mu_);
  peers_.erase(address);
}

size_t AuthFailures::size() const {
  std::lock_guard lock(mu_);
  return peers_.size();
}

std::string peerAddress(const std::string& peer) {
  if (peer.rfind("unix:", 0) == 0) {
    size_t uid = peer.find("uid=");  // "unix:pid=N,uid=U": the user, not the process
    return uid == std::string::npos ? peer : "unix:" + peer.substr(uid);
  }
  size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace thrum::server
