// The Thrift wire as thrum reads it: the four stock client stacks (framed or
// unframed transport, binary or compact protocol), message headers, and the
// errors a peer's bytes can cause.
//
// Everything here is a pure function of bytes: no sockets, no allocation
// before a length has been checked against the configured limit.
//
//   transport::MessageHeader header;
//   size_t header_size = 0;
//   transport::WireErrc err = transport::WireErrc::kOk;
//   transport::Scan s = transport::parseHeader(bytes, transport::Protocol::kBinary,
//                                              max_message_bytes, header, header_size, err);
//   if (s == transport::Scan::kError) close(err);  // kNeedMore: wait for more bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/system/error_code.hpp>

namespace thrum::transport {

enum class Framing : uint8_t {
  kFramed,    // TFramedTransport: a 4-byte big-endian length before each message
  kUnframed,  // TBufferedTransport / raw TSocket: messages back to back
};

enum class Protocol : uint8_t {
  kBinary,   // TBinaryProtocol, strict (version word 0x8001); what stock clients write
  kCompact,  // TCompactProtocol (protocol id 0x82, version 1)
};

struct WireFormat {
  Framing framing;
  Protocol protocol;
  friend bool operator==(const WireFormat&, const WireFormat&) = default;
};

std::string_view toString(Framing framing);
std::string_view toString(Protocol protocol);

// Thrift's TMessageType values.
enum class MessageType : uint8_t {
  kCall = 1,
  kReply = 2,
  kException = 3,
  kOneway = 4,
};

struct MessageHeader {
  std::string name;  // method name; "Service:method" through TMultiplexedProtocol
  MessageType type = MessageType::kCall;
  int32_t seqid = 0;
};

// Why a peer's bytes were refused. Each value is a distinct close reason.
enum class WireErrc {
  kOk = 0,
  kNotThrift,              // first bytes match no Thrift stack
  kLooksLikeTls,           // a TLS ClientHello on a plain endpoint
  kLooksLikeHttp,          // an HTTP request line on a Thrift endpoint
  kTooLarge,               // a frame, message, string or container over the size limit
  kEmptyFrame,             // a frame length of zero
  kProtocolMismatch,       // a frame whose protocol differs from the connection's
  kBadVersion,             // a protocol version this reader does not speak
  kUnknownMessageType,     // a message type outside Thrift's four
  kUnexpectedMessageType,  // a reply or exception sent to a server
  kNegativeSize,           // a negative string or container length
  kBadFieldType,           // a type id no Thrift protocol defines
  kTooDeep,                // nesting deeper than kMaxDepth
  kBadVarint,              // a compact varint longer than its type allows
  kTruncated,              // the stream ended inside a message
};

const boost::system::error_category& wireCategory();
// A short snake_case name for counters and logs ("too_large").
std::string_view shortName(WireErrc e);
boost::system::error_code make_error_code(WireErrc e);

// A peer's bytes made safe for a log line: every byte outside printable
// ASCII (and the backslash) written as \xNN, so a method name or a SASL
// payload cannot forge lines or terminal escapes; at most `max` bytes of
// `text` are shown, then "...".
std::string printable(std::string_view text, size_t max = 128);

// Big-endian 32-bit integers: the length before a framed message, a SASL
// frame or a SASL negotiation payload.
inline uint32_t loadBe32(const void* bytes) {
  const auto* b = static_cast<const uint8_t*>(bytes);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}
inline void storeBe32(uint32_t v, void* bytes) {
  auto* b = static_cast<uint8_t*>(bytes);
  b[0] = static_cast<uint8_t>(v >> 24);
  b[1] = static_cast<uint8_t>(v >> 16);
  b[2] = static_cast<uint8_t>(v >> 8);
  b[3] = static_cast<uint8_t>(v);
}
inline void appendBe32(uint32_t v, std::string& out) {
  char b[4];
  storeBe32(v, b);
  out.append(b, 4);
}

// Structs, lists, sets and maps nested deeper than this are refused
// (Thrift's own default recursion limit).
inline constexpr size_t kMaxDepth = 64;

// Default limit on one message (frame payload or unframed message).
inline constexpr uint32_t kDefaultMaxMessageBytes = 16 * 1024 * 1024;

// Outcome of looking at a prefix of a stream.
enum class Scan {
  kComplete,  // the whole item is present
  kNeedMore,  // not enough bytes yet; nothing is wrong so far
  kError,     // the bytes are malformed; see the WireErrc
};

// Parses a message header at the start of `bytes`. On kComplete, `header` is
// filled and `header_size` is the number of bytes it occupies. Strings longer
// than `max_bytes` are refused before they are copied.
Scan parseHeader(std::span<const uint8_t> bytes, Protocol protocol, uint32_t max_bytes,
                 MessageHeader& header, size_t& header_size, WireErrc& err);

// The message type of an encoded message, read from its first bytes without
// decoding the rest; nullopt if too short or not a message of `protocol`.
std::optional<MessageType> peekMessageType(std::span<const uint8_t> bytes, Protocol protocol);

// Looks at the first bytes of a connection. kComplete sets `format`; kNeedMore
// means fewer than five bytes are present and none ruled anything out yet.
Scan detectFormat(std::span<const uint8_t> bytes, WireFormat& format, WireErrc& err);

}  // namespace thrum::transport

namespace boost::system {
template <>
struct is_error_code_enum<thrum::transport::WireErrc> : std::true_type {};
}  // namespace boost::system
