#include "framework/transport/wire.h"

#include <cstring>

#include "framework/transport/byte_cursor.h"

namespace thrum::transport {
namespace {

class WireCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "thrum.wire"; }
  std::string message(int ev) const override {
    switch (static_cast<WireErrc>(ev)) {
      case WireErrc::kOk:
        return "ok";
      case WireErrc::kNotThrift:
        return "not a Thrift stream (unknown first bytes)";
      case WireErrc::kLooksLikeTls:
        return "TLS handshake on a plain endpoint";
      case WireErrc::kLooksLikeHttp:
        return "HTTP request on a Thrift endpoint";
      case WireErrc::kTooLarge:
        return "message larger than the configured limit";
      case WireErrc::kEmptyFrame:
        return "frame of length zero";
      case WireErrc::kProtocolMismatch:
        return "frame protocol differs from the connection's";
      case WireErrc::kBadVersion:
        return "unsupported protocol version";
      case WireErrc::kUnknownMessageType:
        return "unknown message type";
      case WireErrc::kUnexpectedMessageType:
        return "reply or exception sent to a server";
      case WireErrc::kNegativeSize:
        return "negative length";
      case WireErrc::kBadFieldType:
        return "unknown field type";
      case WireErrc::kTooDeep:
        return "nesting too deep";
      case WireErrc::kBadVarint:
        return "malformed varint";
      case WireErrc::kTruncated:
        return "stream ended inside a message";
    }
    return "unknown wire error";
  }
};

using detail::ByteCursor;

constexpr uint8_t kBinaryVersionByte = 0x80;
constexpr uint8_t kCompactProtocolId = 0x82;
constexpr uint32_t kBinaryVersionMask = 0xffff0000;
constexpr uint32_t kBinaryVersion1 = 0x80010000;
constexpr uint8_t kCompactVersion = 1;

Scan fail(WireErrc& err, WireErrc e) {
  err = e;
  return Scan::kError;
}

bool validType(uint8_t t) {
  return t >= 1 && t <= 4;
}

Scan parseBinaryHeader(ByteCursor& in, uint32_t max_bytes, MessageHeader& header, WireErrc& err) {
  uint32_t version = 0;
  if (!in.be32(version)) return Scan::kNeedMore;
  if ((version & kBinaryVersionMask) != kBinaryVersion1) return fail(err, WireErrc::kBadVersion);
  uint8_t type = version & 0xff;
  if (!validType(type)) return fail(err, WireErrc::kUnknownMessageType);
  uint32_t len = 0;
  if (!in.be32(len)) return Scan::kNeedMore;
  if (static_cast<int32_t>(len) < 0) return fail(err, WireErrc::kNegativeSize);
  if (len > max_bytes) return fail(err, WireErrc::kTooLarge);
  const uint8_t* name = in.here();
  if (!in.skip(len)) return Scan::kNeedMore;
  uint32_t seqid = 0;
  if (!in.be32(seqid)) return Scan::kNeedMore;
  header.name.assign(reinterpret_cast<const char*>(name), len);
  header.type = static_cast<MessageType>(type);
  header.seqid = static_cast<int32_t>(seqid);
  return Scan::kComplete;
}

Scan parseCompactHeader(ByteCursor& in, uint32_t max_bytes, MessageHeader& header, WireErrc& err) {
  uint8_t id = 0, version_type = 0;
  if (!in.u8(id)) return Scan::kNeedMore;
  if (id != kCompactProtocolId) return fail(err, WireErrc::kBadVersion);
  if (!in.u8(version_type)) return Scan::kNeedMore;
  if ((version_type & 0x1f) != kCompactVersion) return fail(err, WireErrc::kBadVersion);
  uint8_t type = (version_type >> 5) & 0x07;
  if (!validType(type)) return fail(err, WireErrc::kUnknownMessageType);
  uint64_t seqid = 0, len = 0;
  switch (in.varint(seqid, 5)) {
    case ByteCursor::Varint::kNeedMore:
      return Scan::kNeedMore;
    case ByteCursor::Varint::kTooLong:
      return fail(err, WireErrc::kBadVarint);
    case ByteCursor::Varint::kOk:
      break;
  }
  switch (in.varint(len, 5)) {
    case ByteCursor::Varint::kNeedMore:
      return Scan::kNeedMore;
    case ByteCursor::Varint::kTooLong:
      return fail(err, WireErrc::kBadVarint);
    case ByteCursor::Varint::kOk:
      break;
  }
  if (len > max_bytes) return fail(err, WireErrc::kTooLarge);
  const uint8_t* name = in.here();
  if (!in.skip(len)) return Scan::kNeedMore;
  header.name.assign(reinterpret_cast<const char*>(name), len);
  header.type = static_cast<MessageType>(type);
  header.seqid = static_cast<int32_t>(static_cast<uint32_t>(seqid));
  return Scan::kComplete;
}

bool startsWithHttpMethod(std::span<const uint8_t> b) {
  static constexpr const char* kMethods[] = {"GET ", "POST", "PUT ", "HEAD", "DELE",
                                             "OPTI", "PATC", "CONN", "PRI "};
  if (b.size() < 4) return false;
  for (const char* m : kMethods) {
    if (std::memcmp(b.data(), m, 4) == 0) return true;
  }
  return false;
}

}  // namespace

const boost::system::error_category& wireCategory() {
  static const WireCategory category;
  return category;
}

boost::system::error_code make_error_code(WireErrc e) {
  return {static_cast<int>(e), wireCategory()};
}

std::string_view shortName(WireErrc e) {
  switch (e) {
    case WireErrc::kOk:
      return "ok";
    case WireErrc::kNotThrift:
      return "not_thrift";
    case WireErrc::kLooksLikeTls:
      return "looks_like_tls";
    case WireErrc::kLooksLikeHttp:
      return "looks_like_http";
    case WireErrc::kTooLarge:
      return "too_large";
    case WireErrc::kEmptyFrame:
      return "empty_frame";
    case WireErrc::kProtocolMismatch:
      return "protocol_mismatch";
    case WireErrc::kBadVersion:
      return "bad_version";
    case WireErrc::kUnknownMessageType:
      return "unknown_message_type";
    case WireErrc::kUnexpectedMessageType:
      return "unexpected_message_type";
    case WireErrc::kNegativeSize:
      return "negative_size";
    case WireErrc::kBadFieldType:
      return "bad_field_type";
    case WireErrc::kTooDeep:
      return "too_deep";
    case WireErrc::kBadVarint:
      return "bad_varint";
    case WireErrc::kTruncated:
      return "truncated";
  }
  return "unknown";
}

std::string_view toString(Framing framing) {
  return framing == Framing::kFramed ? "framed" : "unframed";
}

std::string_view toString(Protocol protocol) {
  return protocol == Protocol::kBinary ? "binary" : "compact";
}

Scan parseHeader(std::span<const uint8_t> bytes, Protocol protocol, uint32_t max_bytes,
                 MessageHeader& header, size_t& header_size, WireErrc& err) {
  ByteCursor in(bytes, 0);
  Scan s = protocol == Protocol::kBinary ? parseBinaryHeader(in, max_bytes, header, err)
                                         : parseCompactHeader(in, max_bytes, header, err);
  if (s == Scan::kComplete) header_size = in.pos();
  return s;
}

std::optional<MessageType> peekMessageType(std::span<const uint8_t> bytes, Protocol protocol) {
  uint8_t type = 0;
  if (protocol == Protocol::kBinary) {
    if (bytes.size() < 4 || bytes[0] != kBinaryVersionByte) return std::nullopt;
    type = bytes[3];
  } else {
    if (bytes.size() < 2 || bytes[0] != kCompactProtocolId) return std::nullopt;
    type = (bytes[1] >> 5) & 0x07;
  }
  if (!validType(type)) return std::nullopt;
  return static_cast<MessageType>(type);
}

Scan detectFormat(std::span<const uint8_t> bytes, WireFormat& format, WireErrc& err) {
  if (bytes.empty()) return Scan::kNeedMore;
  if (bytes[0] == kBinaryVersionByte) {
    format = {Framing::kUnframed, Protocol::kBinary};
    return Scan::kComplete;
  }
  if (bytes[0] == kCompactProtocolId) {
    format = {Framing::kUnframed, Protocol::kCompact};
    return Scan::kComplete;
  }
  // Anything else must be a frame length. Name the usual strangers first: a
  // TLS record (0x16 0x03) and an HTTP request line.
  if (bytes[0] == 0x16 && (bytes.size() < 2 || bytes[1] == 0x03)) {
    if (bytes.size() < 2) return Scan::kNeedMore;
    return fail(err, WireErrc::kLooksLikeTls);
  }
  if (bytes.size() < 4) {
    return Scan::kNeedMore;
  }
  if (startsWithHttpMethod(bytes)) return fail(err, WireErrc::kLooksLikeHttp);
  if (bytes.size() < 5) return Scan::kNeedMore;
  if (bytes[4] == kBinaryVersionByte) {
    format = {Framing::kFramed, Protocol::kBinary};
  } else if (bytes[4] == kCompactProtocolId) {
    format = {Framing::kFramed, Protocol::kCompact};
  } else {
    return fail(err, WireErrc::kNotThrift);
  }
  return Scan::kComplete;
}

}  // namespace thrum::transport
