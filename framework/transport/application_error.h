// Encoding of TApplicationException replies, the one error every stock Thrift
// client understands. The I/O layer uses it to answer calls that never reach
// a handler (overload, shutdown); the dispatch layer for calls whose handler
// escaped with something the generated code could not encode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <thrift/TApplicationException.h>

#include "thrum/transport/wire.h"

namespace thrum::transport {

using AppErrorType = apache::thrift::TApplicationException::TApplicationExceptionType;

// A complete T_EXCEPTION message answering `name`/`seqid`, after `headroom`
// bytes left free for the transport's own header (a frame length).
std::string encodeApplicationException(Protocol protocol, std::string_view name, int32_t seqid,
                                       AppErrorType type, std::string_view message,
                                       size_t headroom = 0);

// Reads the message type of an encoded reply; kException replies also yield
// the exception's message. Returns false if `reply` is not a readable message.
bool inspectReply(Protocol protocol, std::string_view reply, MessageType& type,
                  std::string* exception_message);

}  // namespace thrum::transport
