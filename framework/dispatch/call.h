// Call: one decoded request on its way from an I/O thread to a worker and
// back. It knows nothing of sockets: the layer that made it (server/)
// decides what complete() does, typically "post the reply to my
// connection's I/O thread".
//
// Ownership: the Call is owned by whoever holds the unique_ptr: the I/O
// thread, then the worker queue, then the worker. Exactly one of complete()
// or abandon() is called, once, after which the Call is destroyed.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "thrum/dispatch/call_context.h"
#include "thrum/transport/wire.h"

namespace thrum::dispatch {

// How long a call may take, each counted from its arrival; zero: no limit.
struct CallTimeouts {
  // Waiting for a worker: a call still queued then is answered
  // "queue_timeout" without running.
  std::chrono::milliseconds queue{0};
  // Until its reply: past it the layer that made the call answers the
  // caller "call_timeout" (transport/overload.h) and drops the late result.
  std::chrono::milliseconds call{0};
};

class Call {
 public:
  // The request message is `request` from `offset` on.
  // `checked`: the request's structure was already walked
  // (transport::checkMessage()); otherwise the Dispatcher walks it.
  Call(transport::Protocol protocol, transport::MessageHeader header, std::string request,
       size_t offset, std::shared_ptr<const ConnectionInfo> connection, size_t reply_headroom = 0,
       CallTimeouts timeouts = {}, bool checked = false)
      : Call(protocol, std::move(header), std::move(request), offset, std::move(connection),
             reply_headroom, timeouts, checked, CallContext::Clock::now()) {}
  virtual ~Call() = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  transport::Protocol protocol() const { return protocol_; }
  const transport::MessageHeader& header() const { return header_; }
  bool oneway() const { return header_.type == transport::MessageType::kOneway; }
  std::string_view request() const { return std::string_view(request_).substr(offset_); }
  bool checked() const { return checked_; }
  const CallContext& context() const { return context_; }
  const CallTimeouts& timeouts() const { return timeouts_; }
  // Past this, a call not yet running is answered "queue_timeout": the
  // arrival plus the shorter of its two timeouts; time_point::max() with
  // neither.
  CallContext::Clock::time_point queueDeadline() const { return queue_deadline_; }
  // Bytes the reply should leave free in front of the message, for the
  // transport's own header (a frame length), so it is written in one piece.
  size_t replyHeadroom() const { return reply_headroom_; }

  // The call ran, or was answered without running (past its queue
  // deadline). `reply` is replyHeadroom() bytes of headroom followed by the
  // encoded reply message; empty for a oneway call. Runs on the worker
  // thread, or on the thread whose trySubmit() found the queue full.
  virtual void complete(std::string reply) = 0;
  // The call will never run (the pool stopped before it was dequeued).
  virtual void abandon() = 0;

 protected:
  // For complete() and abandon(): the call's reference to its connection's
  // facts, taken so that the layer can release it where it must (the
  // server's is also the connection's ownership, released on its I/O
  // thread). context() is not used after.
  std::shared_ptr<const ConnectionInfo> takeConnection() { return std::move(context_.connection_); }

 private:
  Call(transport::Protocol protocol, transport::MessageHeader header, std::string request,
       size_t offset, std::shared_ptr<const ConnectionInfo> connection, size_t reply_headroom,
       CallTimeouts timeouts, bool checked, CallContext::Clock::time_point now)
      : protocol_(protocol),
        checked_(checked),
        reply_headroom_(reply_headroom),
        timeouts_(timeouts),
        queue_deadline_(after(now, timeouts.queue, timeouts.call)),
        header_(std::move(header)),
        request_(std::move(request)),
        offset_(offset),
        context_(std::move(connection), header_.name, header_.seqid, now,
                 timeouts.call.count() > 0 ? now + timeouts.call : queue_deadline_) {}

  // `now` plus the shorter of the limits that are set; max() with none.
  static CallContext::Clock::time_point after(CallContext::Clock::time_point now,
                                              std::chrono::milliseconds a,
                                              std::chrono::milliseconds b) {
    if (a.count() == 0 && b.count() == 0) return CallContext::Clock::time_point::max();
    if (a.count() == 0 || (b.count() > 0 && b < a)) a = b;
    return now + a;
  }

  transport::Protocol protocol_;
  bool checked_;
  size_t reply_headroom_;
  CallTimeouts timeouts_;
  CallContext::Clock::time_point queue_deadline_;
  transport::MessageHeader header_;
  std::string request_;
  size_t offset_;
  CallContext context_;  // points into header_, so declared after it
};

}  // namespace thrum::dispatch
