// ConnectionLimits: how many connections a server holds, overall, per peer
// address and per authenticated principal, against the configured maxima.
//
//   if (auto refusal = limits.admit(address); refusal != Refusal::kNone) ...
//   ...
//   limits.leave(address);   // once, for every admitted connection
//
// A limit of 0 is no limit. Thread-safe: every I/O thread admits and
// releases here. Counts are kept only for addresses and principals that
// have a connection open, so memory follows the open connections.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace thrum::server {

class ConnectionLimits {
 public:
  enum class Refusal { kNone, kTotal, kPerAddress, kPerPrincipal };

  ConnectionLimits(size_t total, size_t per_address, size_t per_principal)
      : max_total_(total), max_per_address_(per_address), max_per_principal_(per_principal) {}

  // Counts a new connection from `address` (peerAddress()), or refuses it
  // and counts nothing.
  Refusal admit(const std::string& address);
  void leave(const std::string& address);
  // Counts an authenticated connection of `principal`, or refuses it.
  Refusal admitPrincipal(const std::string& principal);
  void leavePrincipal(const std::string& principal);

  // The limit a refusal hit, and its name as counters and logs spell it
  // ("max_connections", "max_connections_per_address", ...).
  size_t limitOf(Refusal refusal) const;
  static std::string_view name(Refusal refusal);

 private:
  static void drop(std::unordered_map<std::string, size_t>& counts, const std::string& key);

  const size_t max_total_;
  const size_t max_per_address_;
  const size_t max_per_principal_;
  std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> by_address_;
  std::unordered_map<std::string, size_t> by_principal_;
};

}  // namespace thrum::server
