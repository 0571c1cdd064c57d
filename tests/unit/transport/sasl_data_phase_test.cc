#include "thrum/transport/sasl_data_phase.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "thrum/transport/wire.h"

namespace thrum::transport::sasl {
namespace {

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string joined(const std::vector<std::span<const uint8_t>>& pieces) {
  std::string out;
  for (auto p : pieces) out.append(reinterpret_cast<const char*>(p.data()), p.size());
  return out;
}

TEST(SaslDataPhase, FramesInAnyCutsGiveTheThriftBytesInOrder) {
  std::string wire;
  appendFrames("first message", 1024, wire);
  appendFrames("second", 1024, wire);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    DataPhase data(1024, nullptr);
    std::string got, error;
    for (std::string part : {wire.substr(0, cut), wire.substr(cut)}) {
      std::vector<std::span<const uint8_t>> thrift;
      ASSERT_EQ(data.receive(bytesOf(part), thrift, error), DataPhase::Result::kOk);
      got += joined(thrift);
      if (part.size() == cut && cut > 0 && cut < 4) {
        EXPECT_TRUE(data.midFrame());  // inside the first frame's header
      }
    }
    EXPECT_EQ(got, "first messagesecond") << "cut at " << cut;
    EXPECT_FALSE(data.midFrame());
  }
}

TEST(SaslDataPhase, AFrameOverTheLimitStopsAfterTheFramesBeforeIt) {
  std::string wire;
  appendFrames("ok", 1024, wire);
  appendBe32(5000, wire);  // over the limit of 1024
  wire += "xxxx";
  DataPhase data(1024, nullptr);
  std::vector<std::span<const uint8_t>> thrift;
  std::string error;
  EXPECT_EQ(data.receive(bytesOf(wire), thrift, error), DataPhase::Result::kTooLarge);
  EXPECT_EQ(joined(thrift), "ok");
  EXPECT_EQ(data.lastLength(), 5000u);
}

TEST(SaslDataPhase, RepliesLeaveInOneFrameOrInFramesOfTheLargestSizePeersTake) {
  DataPhase data(1024, nullptr);
  std::string error;
  std::vector<std::string> batch{"reply one", "reply two"};
  ASSERT_TRUE(data.wrap(batch, error));
  ASSERT_EQ(batch.size(), 3u);  // one header before the replies, no copy
  std::string expected;
  appendFrames("reply onereply two", kMaxFrameBytes, expected);
  EXPECT_EQ(batch[0] + batch[1] + batch[2], expected);

  std::vector<std::string> big{std::string(kMaxFrameBytes, 'a'), "b"};
  ASSERT_TRUE(data.wrap(big, error));
  ASSERT_EQ(big.size(), 1u);
  DataPhase reader(kMaxFrameBytes, nullptr);
  std::vector<std::span<const uint8_t>> thrift;
  ASSERT_EQ(reader.receive(bytesOf(big[0]), thrift, error), DataPhase::Result::kOk);
  EXPECT_EQ(thrift.size(), 2u);  // two frames
  EXPECT_EQ(joined(thrift), std::string(kMaxFrameBytes, 'a') + "b");
}

}  // namespace
}  // namespace thrum::transport::sasl
