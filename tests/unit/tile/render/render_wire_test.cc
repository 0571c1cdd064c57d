// The server-to-render-process messages: round trips, every cut and lie
// refused with a reason, and frames moved over a real socket pair.
#include "services/tile/render/render_wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace thrum::tile::wire {
namespace {

TEST(RenderWire, RequestRoundTrips) {
  MetatileKey in{"world", {9, 256, 120}}, out;
  std::string error;
  ASSERT_TRUE(decodeRequest(encodeRequest(in), out, error)) << error;
  EXPECT_EQ(out, in);
}

TEST(RenderWire, RequestsForNoMetatileAreRefused) {
  MetatileKey out;
  std::string error;
  EXPECT_FALSE(decodeRequest(encodeRequest({"world", {9, 257, 120}}), out, error));
  EXPECT_EQ(error, "render request names no metatile");
  EXPECT_FALSE(decodeRequest(encodeRequest({"world", {2, 8, 0}}), out, error)) << "outside z2";
  EXPECT_FALSE(decodeRequest(encodeRequest({"world", {25, 0, 0}}), out, error));
  std::string whole = encodeRequest({"world", {9, 256, 120}});
  EXPECT_FALSE(decodeRequest(whole.substr(0, 9), out, error));
  EXPECT_EQ(error, "render request cut short");
  EXPECT_FALSE(decodeRequest("K", out, error));
  EXPECT_EQ(error, "not a render request");
}

TEST(RenderWire, ReplyRoundTripsTilesAndErrors) {
  Reply in{true, {"png one", "", std::string(70000, '\x89')}, ""}, out;
  std::string error;
  ASSERT_TRUE(decodeReply(encodeReply(in), out, error)) << error;
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.pngs, in.pngs);
  ASSERT_TRUE(decodeReply(encodeReply({false, {}, "style exploded"}), out, error));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "style exploded");
}

TEST(RenderWire, EveryCutOfAReplyIsRefused) {
  std::string whole = encodeReply({true, {"abc", "defgh"}, ""});
  Reply out;
  for (size_t n = 0; n < whole.size(); ++n) {
    std::string error;
    EXPECT_FALSE(decodeReply(whole.substr(0, n), out, error)) << "cut at " << n;
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  EXPECT_FALSE(decodeReply(whole + "x", out, error));
  EXPECT_EQ(error, "render reply has 1 bytes past its tiles");
  std::string lying_count = whole;
  lying_count[1] = '\xff';  // 255 tiles in a few bytes
  EXPECT_FALSE(decodeReply(lying_count, out, error));
  EXPECT_EQ(error, "render reply with a bad tile count");
}

TEST(RenderWire, FramesCrossASocketPairAndAnOversizedOneIsRefused) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  std::string big(3 << 20, 'p');  // more than a socket buffer: both sides loop
  std::thread writer([&] {
    std::string error;
    EXPECT_TRUE(sendFrame(pair[0], big, error)) << error;
    EXPECT_TRUE(sendFrame(pair[0], "", error)) << error;
    std::string oversized = frame("x");
    oversized[3] = '\x7f';  // announces ~2 GiB
    EXPECT_TRUE(sendFrame(pair[0], "", error));
    ::send(pair[0], oversized.data(), 4, 0);
  });
  auto forever = [] { return std::optional<int>(-1); };
  std::string payload, error;
  ASSERT_EQ(readFrame(pair[1], payload, error, forever), Read::kFrame) << error;
  EXPECT_EQ(payload, big);
  ASSERT_EQ(readFrame(pair[1], payload, error, forever), Read::kFrame) << error;
  EXPECT_EQ(payload, "");
  ASSERT_EQ(readFrame(pair[1], payload, error, forever), Read::kFrame) << error;
  EXPECT_EQ(readFrame(pair[1], payload, error, forever), Read::kBad);
  EXPECT_NE(error.find("longer than"), std::string::npos) << error;
  writer.join();
  ::close(pair[0]);
  EXPECT_EQ(readFrame(pair[1], payload, error, forever), Read::kClosed);
  ::close(pair[1]);
}

TEST(RenderWire, ReadingStopsWhenTheCallerSaysTimeIsUpOrThePeerLeavesMidFrame) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int asked = 0;
  auto three_polls = [&]() -> std::optional<int> {
    if (++asked > 3) return std::nullopt;
    return 1;
  };
  std::string payload, error;
  EXPECT_EQ(readFrame(pair[1], payload, error, three_polls), Read::kTimedOut);
  EXPECT_EQ(asked, 4);
  std::string half = frame("twelve bytes").substr(0, 8);
  ASSERT_EQ(::send(pair[0], half.data(), half.size(), 0), 8);
  ::close(pair[0]);
  auto forever = [] { return std::optional<int>(-1); };
  EXPECT_EQ(readFrame(pair[1], payload, error, forever), Read::kClosed);
  EXPECT_EQ(error, "closed inside a frame");
  ::close(pair[1]);
}

}  // namespace
}  // namespace thrum::tile::wire
