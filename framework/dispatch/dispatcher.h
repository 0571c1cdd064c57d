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

#include <memory>
#include <string>

#include <thrift/TProcessor.h>

#include "framework/admin/metrics.h"
#include "framework/dispatch/call.h"

namespace thrum::dispatch {

class Dispatcher {
 public:
  Dispatcher(std::shared_ptr<apache::thrift::TProcessor> processor, Metrics& metrics);

  // Runs the call with CallContext::current() set and returns its reply:
  // call.replyHeadroom() bytes of headroom, then the encoded message; empty
  // for oneway calls. Never throws.
  std::string run(const Call& call);

 private:
  std::shared_ptr<apache::thrift::TProcessor> processor_;
  Counter& calls_;               // calls run
  Counter& application_errors_;  // replies that are a TApplicationException
  Counter& handler_escapes_;     // exceptions that escaped the processor
};

}  // namespace thrum::dispatch
