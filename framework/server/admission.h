// Admission: a connection's places in the server's ConnectionLimits, and
// what it answers when it was refused one.
//
//   Admission admission(core.limits, info);
//   if (!admission.admit()) ... answer admission.refusal(retry_after), close
//   ...                     (authenticated)
//   if (!admission.admitPrincipal()) ... the same
//
// A connection is admitted by its peer's address when it opens and, with
// SASL, by its principal once authenticated. The places it took go back
// exactly once: at release() or when the Admission goes, so no path out of
// a connection can keep or return one twice. A refused connection is not
// served: its first call (or SASL message) is answered with refusal(), the
// overload answer naming the limit, and it closes with reason().
#pragma once

#include <chrono>
#include <string>

#include "thrum/dispatch/call_context.h"
#include "thrum/server/close_reason.h"
#include "thrum/server/connection_limits.h"

namespace thrum::server {

class Admission {
 public:
  // Both outlive the Admission; `info` names the peer and, once
  // authenticated, the principal.
  Admission(ConnectionLimits& limits, const ConnectionInfo& info) : limits_(limits), info_(info) {}
  ~Admission() { release(); }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // By the peer's address; false if refused.
  bool admit();
  // By info.security().principal; false if refused.
  bool admitPrincipal();
  // Gives back every place taken; later calls do nothing.
  void release();

  bool refused() const { return refused_ != ConnectionLimits::Refusal::kNone; }
  // The overload answer's text for the refusal ("thrum overloaded:
  // max_connections_per_address: address 10.0.0.7 has 2 connections open,
  // the most allowed; retry after 1000 ms"), and the reason to close with.
  std::string refusal(std::chrono::milliseconds retry_after) const;
  CloseReason reason() const { return CloseReason::of(refused_); }

 private:
  ConnectionLimits& limits_;
  const ConnectionInfo& info_;
  ConnectionLimits::Refusal refused_ = ConnectionLimits::Refusal::kNone;
  bool by_address_ = false;
  bool by_principal_ = false;
};

}  // namespace thrum::server
