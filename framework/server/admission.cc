#include "thrum/server/admission.h"

#include "thrum/server/auth_failures.h"
#include "thrum/transport/overload.h"

namespace thrum::server {

bool Admission::admit() {
  refused_ = limits_.admit(peerAddress(info_.peer));
  by_address_ = !refused();
  return by_address_;
}

bool Admission::admitPrincipal() {
  refused_ = limits_.admitPrincipal(info_.security().principal);
  by_principal_ = !refused();
  return by_principal_;
}

void Admission::release() {
  if (by_address_) limits_.leave(peerAddress(info_.peer));
  if (by_principal_) limits_.leavePrincipal(info_.security().principal);
  by_address_ = by_principal_ = false;
}

std::string Admission::refusal(std::chrono::milliseconds retry_after) const {
  using Refusal = ConnectionLimits::Refusal;
  std::string holder = refused_ == Refusal::kTotal ? "the server"
                       : refused_ == Refusal::kPerAddress
                           ? "address " + peerAddress(info_.peer)
                           : "principal " + info_.security().principal;
  return transport::overloadMessage(ConnectionLimits::name(refused_),
                                    holder + " has " + std::to_string(limits_.limitOf(refused_)) +
                                        " connections open, the most allowed",
                                    retry_after);
}

}  // namespace thrum::server
