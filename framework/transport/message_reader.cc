#include "thrum/transport/message_reader.h"

#include "thrum/transport/byte_cursor.h"

namespace thrum::transport {
namespace {

// TBinaryProtocol type ids (TType).
enum BinaryType : uint8_t {
  kBStop = 0,
  kBBool = 2,
  kBByte = 3,
  kBDouble = 4,
  kBI16 = 6,
  kBI32 = 8,
  kBI64 = 10,
  kBString = 11,
  kBStruct = 12,
  kBMap = 13,
  kBSet = 14,
  kBList = 15,
  kBUuid = 16,
};

// TCompactProtocol type ids.
enum CompactType : uint8_t {
  kCStop = 0,
  kCTrue = 1,
  kCFalse = 2,
  kCByte = 3,
  kCI16 = 4,
  kCI32 = 5,
  kCI64 = 6,
  kCDouble = 7,
  kCBinary = 8,
  kCList = 9,
  kCSet = 10,
  kCMap = 11,
  kCStruct = 12,
  kCUuid = 13,
};

Scan fail(WireErrc& err, WireErrc e) {
  err = e;
  return Scan::kError;
}

}  // namespace

class UnframedScanner::Cursor : public detail::ByteCursor {
  using ByteCursor::ByteCursor;
};

void UnframedScanner::reset() {
  pos_ = 0;
  header_done_ = false;
  stack_.clear();
}

Scan UnframedScanner::push(Level level, WireErrc& err) {
  if (stack_.size() >= kMaxDepth) return fail(err, WireErrc::kTooDeep);
  stack_.push_back(level);
  return Scan::kComplete;
}

Scan UnframedScanner::scan(std::span<const uint8_t> bytes, WireErrc& err) {
  if (!header_done_) {
    MessageHeader header;
    size_t header_size = 0;
    Scan s = parseHeader(bytes, protocol_, max_, header, header_size, err);
    if (s != Scan::kComplete) return s;
    pos_ = header_size;
    header_done_ = true;
    stack_.push_back({Kind::kStruct});
  }
  while (!stack_.empty()) {
    // Each step is all-or-nothing: on kNeedMore the cursor is dropped and the
    // next scan() retries the same item with more bytes.
    Cursor in(bytes, pos_);
    Scan s = step(in, err);
    if (s != Scan::kComplete) {
      if (s == Scan::kNeedMore && bytes.size() > max_) return fail(err, WireErrc::kTooLarge);
      return s;
    }
    pos_ = in.pos();
  }
  if (pos_ > max_) return fail(err, WireErrc::kTooLarge);
  return Scan::kComplete;
}

Scan UnframedScanner::step(Cursor& in, WireErrc& err) {
  Level& top = stack_.back();
  switch (top.kind) {
    case Kind::kStruct: {
      uint8_t type = 0;
      if (!in.u8(type)) return Scan::kNeedMore;
      if (protocol_ == Protocol::kBinary) {
        if (type == kBStop) {
          stack_.pop_back();
          return Scan::kComplete;
        }
        if (!in.skip(2)) return Scan::kNeedMore;  // field id
        return skipValue(in, type, err);
      }
      if (type == kCStop) {
        stack_.pop_back();
        return Scan::kComplete;
      }
      uint8_t ctype = type & 0x0f;
      if ((type >> 4) == 0) {  // no delta: a full zigzag field id follows
        uint64_t id = 0;
        if (Scan s = detail::scanVarint(in, id, 3, err); s != Scan::kComplete) return s;
      }
      // In a field header the type itself carries a bool's value.
      if (ctype == kCTrue || ctype == kCFalse) return Scan::kComplete;
      return skipValue(in, ctype, err);
    }
    case Kind::kList: {
      if (top.remaining == 0) {
        stack_.pop_back();
        return Scan::kComplete;
      }
      --top.remaining;
      uint8_t elem = top.elem;
      Scan s = skipValue(in, elem, err);
      if (s == Scan::kNeedMore) ++stack_.back().remaining;  // roll back
      return s;
    }
    case Kind::kMap: {
      if (top.remaining == 0) {
        stack_.pop_back();
        return Scan::kComplete;
      }
      bool at_value = top.at_value;
      uint8_t type = at_value ? top.value : top.elem;
      top.at_value = !at_value;
      if (at_value) --top.remaining;
      // skipValue may push and so move `top`; find this level again by index.
      size_t index = stack_.size() - 1;
      Scan s = skipValue(in, type, err);
      if (s == Scan::kNeedMore) {
        Level& self = stack_[index];
        self.at_value = at_value;
        if (at_value) ++self.remaining;
      }
      return s;
    }
  }
  return fail(err, WireErrc::kBadFieldType);
}

Scan UnframedScanner::need(Cursor& in, size_t n) {
  return in.skip(n) ? Scan::kComplete : Scan::kNeedMore;
}

Scan UnframedScanner::sized(uint64_t count, size_t min_item, WireErrc& err) const {
  // Each item takes at least min_item bytes, so a count that cannot fit in
  // the limit is refused before any item is looked at.
  if (count > max_ / min_item) return fail(err, WireErrc::kTooLarge);
  return Scan::kComplete;
}

Scan UnframedScanner::skipValue(Cursor& in, uint8_t type, WireErrc& err) {
  return protocol_ == Protocol::kBinary ? skipBinaryValue(in, type, err)
                                        : skipCompactValue(in, type, err);
}

Scan UnframedScanner::skipBinaryValue(Cursor& in, uint8_t type, WireErrc& err) {
  switch (type) {
    case kBBool:
    case kBByte:
      return need(in, 1);
    case kBI16:
      return need(in, 2);
    case kBI32:
      return need(in, 4);
    case kBDouble:
    case kBI64:
      return need(in, 8);
    case kBUuid:
      return need(in, 16);
    case kBString: {
      uint32_t len = 0;
      if (!in.be32(len)) return Scan::kNeedMore;
      if (static_cast<int32_t>(len) < 0) return fail(err, WireErrc::kNegativeSize);
      if (len > max_) return fail(err, WireErrc::kTooLarge);
      return need(in, len);
    }
    case kBStruct:
      return push({Kind::kStruct}, err);
    case kBSet:
    case kBList: {
      uint8_t elem = 0;
      uint32_t count = 0;
      if (!in.u8(elem) || !in.be32(count)) return Scan::kNeedMore;
      if (static_cast<int32_t>(count) < 0) return fail(err, WireErrc::kNegativeSize);
      if (Scan s = sized(count, 1, err); s != Scan::kComplete) return s;
      return push({Kind::kList, elem, 0, false, count}, err);
    }
    case kBMap: {
      uint8_t key = 0, value = 0;
      uint32_t count = 0;
      if (!in.u8(key) || !in.u8(value) || !in.be32(count)) return Scan::kNeedMore;
      if (static_cast<int32_t>(count) < 0) return fail(err, WireErrc::kNegativeSize);
      if (Scan s = sized(count, 2, err); s != Scan::kComplete) return s;
      return push({Kind::kMap, key, value, false, count}, err);
    }
    default:
      return fail(err, WireErrc::kBadFieldType);
  }
}

Scan UnframedScanner::skipCompactValue(Cursor& in, uint8_t type, WireErrc& err) {
  uint64_t v = 0;
  switch (type) {
    case kCTrue:
    case kCFalse:  // a bool inside a container is one byte
    case kCByte:
      return need(in, 1);
    case kCI16:
      return detail::scanVarint(in, v, 3, err);
    case kCI32:
      return detail::scanVarint(in, v, 5, err);
    case kCI64:
      return detail::scanVarint(in, v, 10, err);
    case kCDouble:
      return need(in, 8);
    case kCUuid:
      return need(in, 16);
    case kCBinary: {
      if (Scan s = detail::scanVarint(in, v, 5, err); s != Scan::kComplete) return s;
      if (v > max_) return fail(err, WireErrc::kTooLarge);
      return need(in, v);
    }
    case kCStruct:
      return push({Kind::kStruct}, err);
    case kCList:
    case kCSet: {
      uint8_t size_type = 0;
      if (!in.u8(size_type)) return Scan::kNeedMore;
      uint64_t count = size_type >> 4;
      if (count == 15) {
        if (Scan s = detail::scanVarint(in, count, 5, err); s != Scan::kComplete) return s;
      }
      if (Scan s = sized(count, 1, err); s != Scan::kComplete) return s;
      return push({Kind::kList, static_cast<uint8_t>(size_type & 0x0f), 0, false,
                   static_cast<uint32_t>(count)},
                  err);
    }
    case kCMap: {
      uint64_t count = 0;
      if (Scan s = detail::scanVarint(in, count, 5, err); s != Scan::kComplete) return s;
      if (count == 0) return Scan::kComplete;  // an empty map has no type byte
      uint8_t types = 0;
      if (!in.u8(types)) return Scan::kNeedMore;
      if (Scan s = sized(count, 2, err); s != Scan::kComplete) return s;
      return push({Kind::kMap, static_cast<uint8_t>(types >> 4), static_cast<uint8_t>(types & 0x0f),
                   false, static_cast<uint32_t>(count)},
                  err);
    }
    default:
      return fail(err, WireErrc::kBadFieldType);
  }
}

Scan MessageReader::scanOne(std::span<const uint8_t> bytes, size_t& size, size_t& prefix,
                            WireErrc& err) {
  if (format_->framing == Framing::kFramed) {
    detail::ByteCursor in(bytes, 0);
    uint32_t len = 0;
    if (!in.be32(len)) return Scan::kNeedMore;
    if (len == 0) return fail(err, WireErrc::kEmptyFrame);
    if (len > max_) return fail(err, WireErrc::kTooLarge);
    uint8_t first = 0;
    if (!in.u8(first)) return Scan::kNeedMore;
    uint8_t expected = format_->protocol == Protocol::kBinary ? 0x80 : 0x82;
    if (first != expected) return fail(err, WireErrc::kProtocolMismatch);
    prefix = 4;
    size = 4 + size_t{len};
    if (bytes.size() < size) {
      buffer_.reserve(size);
      return Scan::kNeedMore;
    }
    return Scan::kComplete;
  }
  if (!scanner_) scanner_ = std::make_unique<UnframedScanner>(format_->protocol, max_);
  Scan s = scanner_->scan(bytes, err);
  if (s == Scan::kComplete) {
    prefix = 0;
    size = scanner_->size();
    scanner_->reset();
  }
  return s;
}

WireErrc MessageReader::feed(std::span<const uint8_t> data, std::vector<InboundMessage>& out) {
  if (error_ != WireErrc::kOk) return error_;
  if (data.empty()) return WireErrc::kOk;

  // Scan straight from `data` when nothing is pending, so whole messages are
  // copied once (into their InboundMessage) and a partial tail once more.
  bool from_buffer = !buffer_.empty();
  if (from_buffer) buffer_.append(reinterpret_cast<const char*>(data.data()), data.size());
  std::span<const uint8_t> view =
      from_buffer ? std::span(reinterpret_cast<const uint8_t*>(buffer_.data()), buffer_.size())
                  : data;

  size_t pos = 0;
  WireErrc err = WireErrc::kOk;
  while (pos < view.size()) {
    std::span<const uint8_t> rest = view.subspan(pos);
    if (!format_) {
      WireFormat format{};
      Scan s = detectFormat(rest, format, err);
      if (s == Scan::kError) return error_ = err;
      if (s == Scan::kNeedMore) break;
      format_ = format;
    }
    size_t size = 0, prefix = 0;
    Scan s = scanOne(rest, size, prefix, err);
    if (s == Scan::kError) return error_ = err;
    if (s == Scan::kNeedMore) break;

    InboundMessage msg;
    size_t header_size = 0;
    std::span<const uint8_t> body = rest.subspan(prefix, size - prefix);
    if (parseHeader(body, format_->protocol, max_, msg.header, header_size, err) !=
        Scan::kComplete) {
      // A framed message whose header does not fit in its frame.
      return error_ = (err == WireErrc::kOk ? WireErrc::kTruncated : err);
    }
    if (msg.header.type != MessageType::kCall && msg.header.type != MessageType::kOneway) {
      return error_ = WireErrc::kUnexpectedMessageType;
    }
    bool whole_buffer = from_buffer && pos == 0 && size == buffer_.size();
    pos += size;
    if (whole_buffer && prefix > 0) {
      // The buffer holds exactly this frame: hand it over instead of copying.
      msg.storage = std::move(buffer_);
      msg.offset = prefix;
      buffer_.clear();
      out.push_back(std::move(msg));
      return WireErrc::kOk;
    }
    msg.storage.assign(reinterpret_cast<const char*>(body.data()), body.size());
    msg.checked = prefix == 0;  // unframed: the scanner walked it all
    out.push_back(std::move(msg));
  }

  if (from_buffer) {
    buffer_.erase(0, pos);
  } else if (pos < view.size()) {
    size_t reserve = buffer_.capacity();  // a frame's size, if scanOne reserved it
    buffer_.assign(reinterpret_cast<const char*>(view.data() + pos), view.size() - pos);
    buffer_.reserve(reserve);
  }
  if (buffer_.empty()) std::string().swap(buffer_);  // idle: hold no buffer
  return WireErrc::kOk;
}

WireErrc checkMessage(Protocol protocol, std::string_view message) {
  if (message.size() > UINT32_MAX) return WireErrc::kTooLarge;
  UnframedScanner scanner(protocol, static_cast<uint32_t>(message.size()));
  WireErrc err = WireErrc::kOk;
  Scan s = scanner.scan({reinterpret_cast<const uint8_t*>(message.data()), message.size()}, err);
  if (s == Scan::kComplete) return WireErrc::kOk;
  // Every byte is here, so needing more means an item runs past the end; a
  // length over the limit is one over the message's own size.
  return s == Scan::kNeedMore || err == WireErrc::kTooLarge ? WireErrc::kTruncated : err;
}

WireErrc MessageReader::finish() const {
  if (error_ != WireErrc::kOk) return error_;
  return buffer_.empty() ? WireErrc::kOk : WireErrc::kTruncated;
}

}  // namespace thrum::transport
