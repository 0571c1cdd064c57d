// MessageReader splits a connection's byte stream into complete Thrift
// request messages, whatever stock stack the client uses.
//
// The first bytes pick the stack (see detectFormat); every later message must
// use the same one. Framed messages are cut by their length prefix; unframed
// ones by walking the encoded struct with a resumable scanner, so a message
// split across any number of reads costs one pass over its bytes.
//
// Memory: while no partial message is pending the reader holds no heap
// buffer (idle() is true). A frame's buffer is reserved only after its length
// passed the limit.
//
//   MessageReader reader(kDefaultMaxMessageBytes);
//   std::vector<InboundMessage> messages;
//   if (WireErrc err = reader.feed(bytes, messages); err != WireErrc::kOk) close(err);
//
// Not thread-safe; one reader belongs to one connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "thrum/transport/wire.h"

namespace thrum::transport {

struct InboundMessage {
  MessageHeader header;
  // Holds the message from `offset` on (a frame's length prefix may precede
  // it: a large frame is handed over in the buffer it was received in).
  std::string storage;
  size_t offset = 0;
  // Its whole structure was walked, every container's items found in its
  // bytes (unframed messages are, to find where they end); see checkMessage().
  bool checked = false;

  // The whole message as the protocol encodes it; no frame prefix.
  std::string_view bytes() const { return std::string_view(storage).substr(offset); }
};

// Finds the end of one unframed message by skipping its struct, element by
// element, keeping its place between calls. Exposed for tests.
class UnframedScanner {
 public:
  UnframedScanner(Protocol protocol, uint32_t max_bytes) : protocol_(protocol), max_(max_bytes) {}

  // `bytes` holds everything received of the current message, from its first
  // byte. kComplete sets size(); kNeedMore keeps the place for the next call
  // with the same bytes plus more.
  Scan scan(std::span<const uint8_t> bytes, WireErrc& err);
  size_t size() const { return pos_; }
  void reset();

 private:
  enum class Kind : uint8_t { kStruct, kList, kMap };
  struct Level {
    Kind kind;
    uint8_t elem = 0;        // list/set element type, or map key type
    uint8_t value = 0;       // map value type
    bool at_value = false;   // map: the next item is a value
    uint32_t remaining = 0;  // list/set/map items still to skip
  };
  class Cursor;

  Scan step(Cursor& in, WireErrc& err);
  Scan skipValue(Cursor& in, uint8_t type, WireErrc& err);
  Scan skipBinaryValue(Cursor& in, uint8_t type, WireErrc& err);
  Scan skipCompactValue(Cursor& in, uint8_t type, WireErrc& err);
  // kNeedMore unless `n` more bytes are there (they are skipped).
  static Scan need(Cursor& in, size_t n);
  // kTooLarge if `count` items of at least `min_item` bytes exceed the limit.
  Scan sized(uint64_t count, size_t min_item, WireErrc& err) const;
  Scan push(Level level, WireErrc& err);

  Protocol protocol_;
  uint32_t max_;
  size_t pos_ = 0;  // bytes of the message already skipped
  bool header_done_ = false;
  std::vector<Level> stack_;
};

// Walks one complete message (header included) as UnframedScanner does, with
// the message's own size as the limit. kOk when it is well-formed and every
// string and container holds what its length claims; otherwise why not
// (kTruncated when an item runs past the end). A framed message is cut by
// its length alone, so this is what keeps a frame's lying container count
// (2^30 elements in 40 bytes) from reaching the generated code, which
// multiplies it in int before it checks (Thrift 0.17, undefined behaviour)
// and then reserves that many elements.
WireErrc checkMessage(Protocol protocol, std::string_view message);

class MessageReader {
 public:
  explicit MessageReader(uint32_t max_message_bytes = kDefaultMaxMessageBytes)
      : max_(max_message_bytes) {}

  // Consumes all of `data`, appending every message it completes to `out`.
  // After an error the stream is unusable and every later call returns it.
  WireErrc feed(std::span<const uint8_t> data, std::vector<InboundMessage>& out);

  // Call at end of stream: kTruncated if a message was cut off, else kOk.
  WireErrc finish() const;

  bool idle() const { return buffer_.empty(); }
  std::optional<WireFormat> format() const { return format_; }
  size_t bufferedBytes() const { return buffer_.size(); }

 private:
  Scan scanOne(std::span<const uint8_t> bytes, size_t& size, size_t& prefix, WireErrc& err);

  uint32_t max_;
  std::optional<WireFormat> format_;
  std::unique_ptr<UnframedScanner> scanner_;  // unframed only: framed connections stay small
  std::string buffer_;                        // the partial message, from its first byte
  WireErrc error_ = WireErrc::kOk;
};

}  // namespace thrum::transport
