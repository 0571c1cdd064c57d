// Dispatcher: runs a generated Thrift TProcessor over one call's bytes.
//
// The processor sees an in-memory transport holding exactly the request
// message and writes its reply to another; the calling worker thread keeps
// both buffers between calls. Whatever escapes the processor becomes a
// TApplicationException reply, so a handler cannot take a worker down.
//
// Thread-safe: one Dispatcher serves every worker of a pool. The processor
// must be safe to call from several threads at once (generated processors
// are; the handler they wrap is the service author's business).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <thrift/TProcessor.h>

#include "thrum/admin/metrics.h"
#include "thrum/dispatch/call.h"
#include "thrum/status.h"

namespace thrum {

// Decides on a worker, before the handler, whether a call may run: the
// principal, method and peer are in `call`. A failure refuses it, and its
// message is added to the TApplicationException the client gets. May block.
using Authorizer = std::function<Status(const CallContext& call)>;

namespace dispatch {

class Dispatcher {
 public:
  // `retry_after` is the hint given with the answer to a call that waited
  // past its deadline in the queue (transport/overload.h).
  Dispatcher(std::shared_ptr<apache::thrift::TProcessor> processor, Metrics& metrics,
             std::chrono::milliseconds retry_after = std::chrono::milliseconds(100));

  // Set before the workers start; every call is checked from then on.
  void setAuthorizer(Authorizer authorizer) { authorizer_ = std::move(authorizer); }

  // Runs the call with CallContext::current() set and returns its reply:
  // call.replyHeadroom() bytes of headroom, then the encoded message; empty
  // for oneway calls. A call past its deadline does not run: it is answered
  // "thrum overloaded: queue_timeout". Nor does a request whose structure
  // does not hold together (transport::checkMessage()): it is answered
  // PROTOCOL_ERROR "thrum: malformed request: ...", counted
  // calls.malformed. Never throws.
  std::string run(const Call& call);

  // The answer to a call past its queue deadline, which does not run:
  // "thrum overloaded: queue_timeout" (empty for a oneway call), counted
  // calls.rejected.queue_timeout. Thread-safe.
  std::string expire(const Call& call);

 private:
  // The answer to a call that is not to run (expired, malformed, refused).
  std::optional<std::string> screen(const Call& call);
  // Runs the processor; what escaped it, or "" (the reply waits in this
  // worker's buffers).
  std::string process(const Call& call);
  std::string escaped(const Call& call, const std::string& what);
  // Counts and logs a reply that is a TApplicationException.
  void noteException(const Call& call, std::string_view reply);
  std::string refuse(const Call& call, const std::string& reason);
  std::string malformed(const Call& call, transport::WireErrc why);

  std::shared_ptr<apache::thrift::TProcessor> processor_;
  Authorizer authorizer_;
  std::chrono::milliseconds retry_after_;
  Counter& calls_;               // calls run
  Counter& refused_;             // calls the authorizer refused
  Counter& application_errors_;  // replies that are a TApplicationException
  Counter& handler_escapes_;     // exceptions that escaped the processor
  Counter& expired_;             // calls answered queue_timeout without running
  Counter& malformed_;           // requests refused by checkMessage()
};

}  // namespace dispatch
}  // namespace thrum
