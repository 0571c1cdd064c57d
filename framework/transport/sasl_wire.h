// Thrift's SASL transport on the wire (TSaslTransport in Java, Python and
// Impala; the facts are in docs/sasl.md):
//
//   negotiation:  status (1 byte) | length (u32 big-endian) | payload
//   data phase:   length (u32 big-endian) | payload
//
// Both readers are pure and resumable: bytes go in as they arrive, in any
// split, and nothing is allocated for a payload before its length passed
// the limit.
//
//   sasl::NegotiationReader reader(64 * 1024);
//   sasl::Message m;
//   while (reader.next(bytes, m) == sasl::ReadResult::kMessage) handle(m);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace thrum::transport::sasl {

enum class Status : uint8_t {
  kStart = 1,     // client: the mechanism name
  kOk = 2,        // a step of the negotiation
  kBad = 3,       // refused (unknown mechanism, failed authentication); payload says why
  kError = 4,     // protocol violation; payload says why
  kComplete = 5,  // the sender is done; the server always ends with it
};

std::string_view toString(Status status);

struct Message {
  Status status = Status::kStart;
  std::string payload;
};

// Appends one negotiation message to `out`.
void appendMessage(Status status, std::string_view payload, std::string& out);

enum class ReadResult {
  kMessage,    // one complete message (or frame) was produced
  kNeedMore,   // every input byte was taken; the next one is still to come
  kBadStatus,  // a status byte outside 1..5
  kTooLarge,   // a length over the limit
};

class NegotiationReader {
 public:
  explicit NegotiationReader(size_t max_payload) : max_payload_(max_payload) {}

  // Takes bytes from the front of `in` until a message is complete (kMessage,
  // `out` filled, the rest of `in` left for the next call) or `in` is used
  // up (kNeedMore). After an error the reader is finished.
  ReadResult next(std::span<const uint8_t>& in, Message& out);

  // What the refused header said, for the error message.
  uint8_t lastStatusByte() const { return header_[0]; }
  uint32_t lastLength() const;

 private:
  size_t max_payload_;
  uint8_t header_[5] = {};
  size_t header_have_ = 0;
  std::string payload_;
  size_t payload_want_ = 0;
};

// Data-phase frames. Unwrapped (no security layer), payloads are a byte
// stream of Thrift messages and pass through as spans into the input, frame
// headers cut out. Wrapped, each frame is one SASL packet and comes out
// whole, with its 4-byte length, as sasl_decode wants it.
class FrameReader {
 public:
  explicit FrameReader(size_t max_frame) : max_frame_(max_frame) {}

  // Unwrapped: appends every payload byte in `in` to `out` as spans of `in`.
  ReadResult payloads(std::span<const uint8_t> in, std::vector<std::span<const uint8_t>>& out);
  // Wrapped: takes bytes from the front of `in` until one packet is complete
  // (kMessage, `packet` holds length + payload) or `in` is used up.
  ReadResult packet(std::span<const uint8_t>& in, std::string& packet);

  uint32_t lastLength() const { return length(); }
  // Part of a frame has arrived, not all of it.
  bool midFrame() const { return header_have_ != 0 || remaining_ != 0 || !packet_.empty(); }

 private:
  uint32_t length() const;
  // Reads header bytes; true once all four are in.
  bool header(std::span<const uint8_t>& in);

  size_t max_frame_;
  uint8_t header_[4] = {};
  size_t header_have_ = 0;
  size_t remaining_ = 0;  // payload bytes of the current frame still to come
  std::string packet_;
};

// Appends data frames carrying `payload` to `out`, none over `max_frame`
// payload bytes (a payload of 0 bytes makes no frame).
void appendFrames(std::string_view payload, size_t max_frame, std::string& out);

// The largest frame a peer accepts: newer Java peers refuse more.
constexpr size_t kMaxFrameBytes = 16'384'000;

}  // namespace thrum::transport::sasl
