// THRUM_ASSERT_ON(executor): in debug builds, checks that the caller runs
// on the thread of `executor` (an io_context's), where an object that lives
// on one I/O thread (a connection, its handshake, a WorkerLink's I/O side,
// a ConnectionList) must be touched. Like Envoy's ASSERT(isThreadSafe()): a
// wrong-thread call fails at once, at its caller, instead of as a race
// that TSan may or may not catch. Compiled out with NDEBUG.
#pragma once

#include <cassert>

#define THRUM_ASSERT_ON(executor) assert((executor).running_in_this_thread())
