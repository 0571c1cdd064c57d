#include "thrum/transport/sasl_wire.h"

#include <algorithm>

#include "thrum/transport/wire.h"

namespace thrum::transport::sasl {
std::string_view toString(Status status) {
  switch (status) {
    case Status::kStart:
      return "START";
    case Status::kOk:
      return "OK";
    case Status::kBad:
      return "BAD";
    case Status::kError:
      return "ERROR";
    case Status::kComplete:
      return "COMPLETE";
  }
  return "?";
}

void appendMessage(Status status, std::string_view payload, std::string& out) {
  out.push_back(static_cast<char>(status));
  appendBe32(static_cast<uint32_t>(payload.size()), out);
  out.append(payload);
}

uint32_t NegotiationReader::lastLength() const {
  return loadBe32(header_ + 1);
}

ReadResult NegotiationReader::next(std::span<const uint8_t>& in, Message& out) {
  while (header_have_ < sizeof(header_)) {
    if (in.empty()) return ReadResult::kNeedMore;
    header_[header_have_++] = in.front();
    in = in.subspan(1);
    if (header_have_ == 1 && (header_[0] < 1 || header_[0] > 5)) return ReadResult::kBadStatus;
    if (header_have_ == sizeof(header_)) {
      payload_want_ = lastLength();
      if (payload_want_ > max_payload_) return ReadResult::kTooLarge;
      payload_.clear();
      payload_.reserve(payload_want_);
    }
  }
  size_t n = std::min(in.size(), payload_want_ - payload_.size());
  payload_.append(reinterpret_cast<const char*>(in.data()), n);
  in = in.subspan(n);
  if (payload_.size() < payload_want_) return ReadResult::kNeedMore;
  out.status = static_cast<Status>(header_[0]);
  out.payload = std::move(payload_);
  payload_ = {};
  header_have_ = 0;
  return ReadResult::kMessage;
}

uint32_t FrameReader::length() const {
  return loadBe32(header_);
}

bool FrameReader::header(std::span<const uint8_t>& in) {
  while (header_have_ < sizeof(header_) && !in.empty()) {
    header_[header_have_++] = in.front();
    in = in.subspan(1);
  }
  return header_have_ == sizeof(header_);
}

ReadResult FrameReader::payloads(std::span<const uint8_t> in,
                                 std::vector<std::span<const uint8_t>>& out) {
  while (!in.empty()) {
    if (remaining_ == 0) {
      if (!header(in)) return ReadResult::kNeedMore;
      header_have_ = 0;
      remaining_ = length();
      if (remaining_ > max_frame_) return ReadResult::kTooLarge;
      continue;  // an empty frame carries nothing
    }
    size_t n = std::min(in.size(), remaining_);
    out.push_back(in.first(n));
    in = in.subspan(n);
    remaining_ -= n;
  }
  return ReadResult::kNeedMore;
}

ReadResult FrameReader::packet(std::span<const uint8_t>& in, std::string& packet) {
  if (packet_.empty()) {
    if (!header(in)) return ReadResult::kNeedMore;
    remaining_ = length();
    if (remaining_ > max_frame_) return ReadResult::kTooLarge;
    packet_.reserve(sizeof(header_) + remaining_);
    packet_.append(reinterpret_cast<const char*>(header_), sizeof(header_));
  }
  size_t n = std::min(in.size(), remaining_);
  packet_.append(reinterpret_cast<const char*>(in.data()), n);
  in = in.subspan(n);
  remaining_ -= n;
  if (remaining_ > 0) return ReadResult::kNeedMore;
  header_have_ = 0;
  packet = std::move(packet_);
  packet_ = {};
  return ReadResult::kMessage;
}

void appendFrames(std::string_view payload, size_t max_frame, std::string& out) {
  while (!payload.empty()) {
    size_t n = std::min(payload.size(), max_frame);
    appendBe32(static_cast<uint32_t>(n), out);
    out.append(payload.substr(0, n));
    payload.remove_prefix(n);
  }
}

}  // namespace thrum::transport::sasl
