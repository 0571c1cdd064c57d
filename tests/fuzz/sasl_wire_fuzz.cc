// The SASL negotiation and data-frame readers on arbitrary bytes, cut into
// pieces whose sizes come from the input itself. Invariants: no crash; the
// same messages come out however the bytes are cut; nothing over the limit
// is ever produced; an error ends the stream.
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"
#include "thrum/transport/sasl_wire.h"

using namespace thrum::transport::sasl;

namespace {

constexpr size_t kLimit = 4096;

// Every message, then how the stream ended, for the bytes cut every `step`.
std::vector<std::string> negotiation(std::span<const uint8_t> bytes, size_t step) {
  NegotiationReader reader(kLimit);
  std::vector<std::string> out;
  for (size_t at = 0; at < bytes.size(); at += step) {
    auto in = bytes.subspan(at, std::min(step, bytes.size() - at));
    Message m;
    for (;;) {
      ReadResult r = reader.next(in, m);
      if (r == ReadResult::kMessage) {
        FUZZ_CHECK(m.payload.size() <= kLimit);
        out.push_back(std::to_string(static_cast<int>(m.status)) + ":" + m.payload);
        continue;
      }
      if (r != ReadResult::kNeedMore) {
        out.push_back(r == ReadResult::kBadStatus ? "bad status" : "too large");
        return out;
      }
      FUZZ_CHECK(in.empty());
      break;
    }
  }
  return out;
}

std::string payloads(std::span<const uint8_t> bytes, size_t step) {
  FrameReader reader(kLimit);
  std::string out;
  for (size_t at = 0; at < bytes.size(); at += step) {
    std::vector<std::span<const uint8_t>> pieces;
    ReadResult r = reader.payloads(bytes.subspan(at, std::min(step, bytes.size() - at)), pieces);
    for (auto p : pieces) out.append(reinterpret_cast<const char*>(p.data()), p.size());
    if (r == ReadResult::kTooLarge) return out + "|too large";
  }
  return out;
}

std::vector<std::string> packets(std::span<const uint8_t> bytes, size_t step) {
  FrameReader reader(kLimit);
  std::vector<std::string> out;
  for (size_t at = 0; at < bytes.size(); at += step) {
    auto in = bytes.subspan(at, std::min(step, bytes.size() - at));
    std::string packet;
    for (;;) {
      ReadResult r = reader.packet(in, packet);
      if (r == ReadResult::kMessage) {
        FUZZ_CHECK(packet.size() >= 4 && packet.size() <= kLimit + 4);
        out.push_back(packet);
        continue;
      }
      if (r == ReadResult::kTooLarge) {
        out.push_back("too large");
        return out;
      }
      break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  size_t step = size > 0 ? 1 + data[0] % 7 : 1;
  FUZZ_CHECK(negotiation(bytes, size + 1) == negotiation(bytes, step));
  FUZZ_CHECK(payloads(bytes, size + 1) == payloads(bytes, step));
  FUZZ_CHECK(packets(bytes, size + 1) == packets(bytes, step));
  return 0;
}
