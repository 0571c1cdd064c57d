#include "thrum/transport/sasl_data_phase.h"

#include "thrum/transport/wire.h"

namespace thrum::transport::sasl {

DataPhase::Result DataPhase::receive(std::span<const uint8_t> bytes,
                                     std::vector<std::span<const uint8_t>>& thrift,
                                     std::string& error) {
  if (!layer_) {
    return frames_.payloads(bytes, thrift) == ReadResult::kTooLarge ? Result::kTooLarge
                                                                    : Result::kOk;
  }
  // Per thread, not per connection: an idle connection keeps no buffer.
  thread_local std::string plain, packet;
  plain.clear();
  for (;;) {
    ReadResult r = frames_.packet(bytes, packet);
    if (r == ReadResult::kTooLarge) break;
    if (r == ReadResult::kNeedMore) {
      if (!plain.empty()) {
        thrift.emplace_back(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
      }
      return Result::kOk;
    }
    if (!layer_->decode(packet, plain, error)) return Result::kDecodeFailed;
  }
  return Result::kTooLarge;
}

bool DataPhase::wrap(std::vector<std::string>& batch, std::string& error) {
  if (layer_) {
    std::string plain;
    for (const auto& r : batch) plain += r;
    std::string packets;
    if (!layer_->encode(plain, packets, error)) return false;
    batch.assign(1, std::move(packets));
    return true;
  }
  size_t total = 0;
  for (const auto& r : batch) total += r.size();
  if (total <= kMaxFrameBytes) {
    // One frame around the whole batch: its header is one more buffer.
    std::string header;
    appendBe32(static_cast<uint32_t>(total), header);
    batch.insert(batch.begin(), std::move(header));
    return true;
  }
  std::string plain;
  for (const auto& r : batch) plain += r;
  std::string frames;
  appendFrames(plain, kMaxFrameBytes, frames);
  batch.assign(1, std::move(frames));
  return true;
}

}  // namespace thrum::transport::sasl
