// MessageReader on arbitrary bytes. Invariants: no crash; a limit is never
// exceeded; every message it yields is a call or oneway; and feeding the same
// bytes whole or split at any point gives the same messages and verdict.
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"
#include "thrum/transport/message_reader.h"

using namespace thrum::transport;

namespace {

constexpr uint32_t kMax = 4096;

struct Result {
  WireErrc err = WireErrc::kOk;
  std::vector<std::string> messages;
};

Result run(std::span<const uint8_t> bytes, size_t cut) {
  MessageReader reader(kMax);
  std::vector<InboundMessage> out;
  Result r;
  r.err = reader.feed(bytes.first(cut), out);
  if (r.err == WireErrc::kOk) r.err = reader.feed(bytes.subspan(cut), out);
  for (const auto& m : out) {
    FUZZ_CHECK(m.bytes().size() <= kMax);
    FUZZ_CHECK(m.header.type == MessageType::kCall || m.header.type == MessageType::kOneway);
    r.messages.emplace_back(m.bytes());
  }
  if (r.err == WireErrc::kOk) {
    FUZZ_CHECK(reader.bufferedBytes() <= bytes.size());
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  Result whole = run(bytes, size);
  size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  Result split = run(bytes, cut);
  // Split or whole, the same messages come out and the stream is accepted or
  // refused alike (the reason may differ: with fewer bytes at hand an
  // overlong message is refused for its size before a later bad byte is seen).
  FUZZ_CHECK((whole.err == WireErrc::kOk) == (split.err == WireErrc::kOk));
  FUZZ_CHECK(whole.messages == split.messages);
  return 0;
}
