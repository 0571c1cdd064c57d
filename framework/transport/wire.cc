#include "thrum/transport/wire.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "thrum/transport/byte_cursor.h"

namespace thrum::transport {
namespace {

// One row per WireErrc, in enum order: the counter name and the message.
struct ErrcText {
  WireErrc code;
  std::string_view short_name;
  std::string_view message;
};
constexpr ErrcText kErrcTexts[] = {
    {WireErrc::kOk, "ok", "ok"},
    {WireErrc::kNotThrift, "not_thrift", "not a Thrift stream (unknown first bytes)"},
    {WireErrc::kLooksLikeTls, "looks_like_tls", "TLS handshake on a plain endpoint"},
    {WireErrc::kLooksLikeHttp, "looks_like_http", "HTTP request on a Thrift endpoint"},
    {WireErrc::kTooLarge, "too_large", "message larger than the configured limit"},
    {WireErrc::kEmptyFrame, "empty_frame", "frame of length zero"},
    {WireErrc::kProtocolMismatch, "protocol_mismatch",
     "frame protocol differs from the connection's"},
    {WireErrc::kBadVersion, "bad_version", "unsupported protocol version"},
    {WireErrc::kUnknownMessageType, "unknown_message_type", "unknown message type"},
    {WireErrc::kUnexpectedMessageType, "unexpected_message_type",
     "reply or exception sent to a server"},
    {WireErrc::kNegativeSize, "negative_size", "negative length"},
    {WireErrc::kBadFieldType, "bad_field_type", "unknown field type"},
    {WireErrc::kTooDeep, "too_deep", "nesting too deep"},
    {WireErrc::kBadVarint, "bad_varint", "malformed varint"},
    {WireErrc::kTruncated, "truncated", "stream ended inside a message"},
};

constexpr bool rowsInEnumOrder() {
  for (size_t i = 0; i < std::size(kErrcTexts); ++i) {
    if (static_cast<size_t>(kErrcTexts[i].code) != i) return false;
  }
  return true;
}
static_assert(rowsInEnumOrder(), "kErrcTexts must list every WireErrc in enum order");

const ErrcText& describe(WireErrc e) {
  static constexpr ErrcText kUnknown{WireErrc::kOk, "unknown", "unknown wire error"};
  auto i = static_cast<size_t>(e);
  return i < std::size(kErrcTexts) ? kErrcTexts[i] : kUnknown;
}

class WireCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "thrum.wire"; }
  std::string message(int ev) const override;
};

std::string WireCategory::message(int ev) const {
  return std::string(describe(static_cast<WireErrc>(ev)).message);
}

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
  if (Scan s = detail::scanVarint(in, seqid, 5, err); s != Scan::kComplete) return s;
  if (Scan s = detail::scanVarint(in, len, 5, err); s != Scan::kComplete) return s;
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
  return describe(e).short_name;
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

std::string printable(std::string_view text, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace thrum::transport
