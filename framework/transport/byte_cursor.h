// A bounds-checked reader over a byte span, for the wire codecs. Each read
// either succeeds whole or reports that more bytes are needed, leaving the
// position for the caller to roll back. Internal to transport/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "thrum/transport/wire.h"

namespace thrum::transport::detail {

class ByteCursor {
 public:
  ByteCursor(std::span<const uint8_t> bytes, size_t pos) : bytes_(bytes), pos_(pos) {}

  size_t pos() const { return pos_; }
  size_t available() const { return bytes_.size() - pos_; }

  bool skip(size_t n) {
    if (available() < n) return false;
    pos_ += n;
    return true;
  }
  bool u8(uint8_t& v) {
    if (available() < 1) return false;
    v = bytes_[pos_++];
    return true;
  }
  bool be32(uint32_t& v) {
    if (available() < 4) return false;
    v = loadBe32(bytes_.data() + pos_);
    pos_ += 4;
    return true;
  }

  enum class Varint { kOk, kNeedMore, kTooLong };
  // Reads a base-128 varint of at most `max_len` bytes (5 for 32 bits, 10 for 64).
  Varint varint(uint64_t& v, size_t max_len) {
    v = 0;
    for (size_t i = 0;; ++i) {
      if (i == max_len) return Varint::kTooLong;
      if (pos_ + i >= bytes_.size()) return Varint::kNeedMore;
      uint8_t b = bytes_[pos_ + i];
      v |= uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80) == 0) {
        pos_ += i + 1;
        return Varint::kOk;
      }
    }
  }

  const uint8_t* here() const { return bytes_.data() + pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_;
};

// A varint read as a scan step: kTooLong is a kBadVarint error.
inline Scan scanVarint(ByteCursor& in, uint64_t& v, size_t max_len, WireErrc& err) {
  switch (in.varint(v, max_len)) {
    case ByteCursor::Varint::kOk:
      return Scan::kComplete;
    case ByteCursor::Varint::kNeedMore:
      return Scan::kNeedMore;
    case ByteCursor::Varint::kTooLong:
      break;
  }
  err = WireErrc::kBadVarint;
  return Scan::kError;
}

}  // namespace thrum::transport::detail
