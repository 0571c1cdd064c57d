#include "thrum/dispatch/call_context.h"

namespace thrum {
namespace {
thread_local const CallContext* t_current = nullptr;
}  // namespace

const CallContext* CallContext::current() {
  return t_current;
}

ScopedCallContext::ScopedCallContext(const CallContext& context) : previous_(t_current) {
  t_current = &context;
}

ScopedCallContext::~ScopedCallContext() {
  t_current = previous_;
}

}  // namespace thrum
