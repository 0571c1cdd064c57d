#include "thrum/server/connection_limits.h"

namespace thrum::server {

ConnectionLimits::Refusal ConnectionLimits::admit(const std::string& address) {
  std::lock_guard lock(mu_);
  if (max_total_ > 0 && total_ >= max_total_) return Refusal::kTotal;
  size_t& n = by_address_[address];
  if (max_per_address_ > 0 && n >= max_per_address_) {
    if (n == 0) by_address_.erase(address);
    return Refusal::kPerAddress;
  }
  ++n;
  ++total_;
  return Refusal::kNone;
}

void ConnectionLimits::leave(const std::string& address) {
  std::lock_guard lock(mu_);
  --total_;
  drop(by_address_, address);
}

ConnectionLimits::Refusal ConnectionLimits::admitPrincipal(const std::string& principal) {
  std::lock_guard lock(mu_);
  size_t& n = by_principal_[principal];
  if (max_per_principal_ > 0 && n >= max_per_principal_) {
    if (n == 0) by_principal_.erase(principal);
    return Refusal::kPerPrincipal;
  }
  ++n;
  return Refusal::kNone;
}

void ConnectionLimits::leavePrincipal(const std::string& principal) {
  std::lock_guard lock(mu_);
  drop(by_principal_, principal);
}

void ConnectionLimits::drop(std::unordered_map<std::string, size_t>& counts,
                            const std::string& key) {
  auto it = counts.find(key);
  if (it != counts.end() && --it->second == 0) counts.erase(it);
}

size_t ConnectionLimits::limitOf(Refusal refusal) const {
  switch (refusal) {
    case Refusal::kTotal:
      return max_total_;
    case Refusal::kPerAddress:
      return max_per_address_;
    case Refusal::kPerPrincipal:
      return max_per_principal_;
    case Refusal::kNone:
      break;
  }
  return 0;
}

std::string_view ConnectionLimits::name(Refusal refusal) {
  switch (refusal) {
    case Refusal::kTotal:
      return "max_connections";
    case Refusal::kPerAddress:
      return "max_connections_per_address";
    case Refusal::kPerPrincipal:
      return "max_connections_per_principal";
    case Refusal::kNone:
      break;
  }
  return "none";
}

}  // namespace thrum::server
