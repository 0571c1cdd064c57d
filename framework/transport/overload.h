// Overload answers: how thrum says "not now" to a call or a connection it
// will not serve, in a form every stock Thrift client can read and a program
// can act on.
//
// The answer is a TApplicationException of type INTERNAL_ERROR (the one
// every Thrift library raises to the caller unchanged) whose message reads
//
//   thrum overloaded: REASON: DETAIL; retry after N ms
//
// REASON names the limit that refused the work:
//   queue_full                     the lane's worker queue was full
//   queue_timeout                  the call waited past its queue timeout
//   shutting_down                  the server stopped before the call ran
//   max_connections                the server holds its maximum of connections
//   max_connections_per_address    the peer address holds its maximum
//   max_connections_per_principal  the authenticated principal holds its maximum
//   memory                         the server's buffered bytes are at their budget
// DETAIL is for people; "retry after N ms" is the server's hint for when
// trying again may succeed. Calls refused this way never ran, so retrying
// them is safe whatever they do. A refused call leaves its connection open;
// a refused connection is answered once, then closed.
//
// One more answer, also INTERNAL_ERROR, is not an overload: a call not
// answered within its call timeout (ServerOptions::call_timeout) reads
//
//   thrum call_timeout: METHOD was not answered within N ms
//
// Such a call may have run, whole or in part, and may still be running:
// whether to retry it is the caller's decision.
//
//   try { client.work(1000); }
//   catch (const apache::thrift::TApplicationException& e) {
//     if (auto o = thrum::transport::parseOverload(e.what())) sleep_for(o->retry_after);
//   }
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "thrum/transport/wire.h"

namespace thrum::transport {

std::string overloadMessage(std::string_view reason, std::string_view detail,
                            std::chrono::milliseconds retry_after);

// The answer to the call `header`: the T_EXCEPTION reply described above
// carrying `message` (an overloadMessage()), after `headroom` bytes left
// free for the transport's own header.
std::string encodeOverload(Protocol protocol, const MessageHeader& header, std::string_view message,
                           size_t headroom);

std::string callTimeoutMessage(std::string_view method, std::chrono::milliseconds limit);

struct Overload {
  std::string reason;
  std::chrono::milliseconds retry_after{0};
};

// The reason and hint of an overload answer's message; nullopt for any
// other message.
std::optional<Overload> parseOverload(std::string_view message);

}  // namespace thrum::transport
