#include "thrum/transport/sasl_wire.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace thrum::transport::sasl {
namespace {

std::span<const uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Java's PLAIN opening: START, then COMPLETE with the initial response.
std::string javaPlainOpening() {
  std::string out;
  appendMessage(Status::kStart, "PLAIN", out);
  appendMessage(Status::kComplete, std::string("\0alice\0secret", 13), out);
  return out;
}

TEST(NegotiationReader, ReadsMessagesCutAtEveryBytePosition) {
  std::string wire = javaPlainOpening();
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    NegotiationReader reader(1024);
    std::vector<Message> got;
    for (std::string part : {wire.substr(0, cut), wire.substr(cut)}) {
      auto in = bytesOf(part);
      Message m;
      ReadResult r;
      while ((r = reader.next(in, m)) == ReadResult::kMessage) got.push_back(m);
      ASSERT_EQ(r, ReadResult::kNeedMore);
      EXPECT_TRUE(in.empty());
    }
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(got[0].status, Status::kStart);
    EXPECT_EQ(got[0].payload, "PLAIN");
    EXPECT_EQ(got[1].status, Status::kComplete);
    EXPECT_EQ(got[1].payload, std::string("\0alice\0secret", 13));
  }
}

TEST(NegotiationReader, ReadsOneByteAtATime) {
  std::string wire = javaPlainOpening();
  NegotiationReader reader(1024);
  std::vector<Message> got;
  for (char c : wire) {
    std::string one(1, c);
    auto in = bytesOf(one);
    Message m;
    if (reader.next(in, m) == ReadResult::kMessage) got.push_back(m);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].payload.size(), 13u);
}

TEST(NegotiationReader, LeavesTheBytesAfterAMessageForTheNextCall) {
  std::string tail("\0\0\0\x11", 4);
  std::string wire = javaPlainOpening() + tail;
  NegotiationReader reader(1024);
  auto in = bytesOf(wire);
  Message m;
  ASSERT_EQ(reader.next(in, m), ReadResult::kMessage);
  ASSERT_EQ(reader.next(in, m), ReadResult::kMessage);
  EXPECT_EQ(in.size(), tail.size()) << "the data phase's first bytes stay unread";
}

TEST(NegotiationReader, RefusesABadStatusByte) {
  for (uint8_t status : {0, 6, 0x80, 0xff}) {
    NegotiationReader reader(1024);
    std::string wire(1, static_cast<char>(status));
    auto in = bytesOf(wire);
    Message m;
    EXPECT_EQ(reader.next(in, m), ReadResult::kBadStatus);
    EXPECT_EQ(reader.lastStatusByte(), status);
  }
}

TEST(NegotiationReader, RefusesALengthOverTheLimitBeforeReadingThePayload) {
  NegotiationReader reader(1000);
  std::string wire = std::string("\x02\x00\x00\x03\xe9", 5);  // 1001
  auto in = bytesOf(wire);
  Message m;
  EXPECT_EQ(reader.next(in, m), ReadResult::kTooLarge);
  EXPECT_EQ(reader.lastLength(), 1001u);
  NegotiationReader exact(1001);
  in = bytesOf(wire);
  EXPECT_EQ(exact.next(in, m), ReadResult::kNeedMore);
}

TEST(FrameReader, PassesPayloadsThroughAndSkipsEmptyFrames) {
  std::string wire;
  appendFrames("hello ", 1000, wire);
  wire += std::string("\0\0\0\0", 4);  // an empty flush, as Java may send
  appendFrames("world", 1000, wire);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameReader reader(1000);
    std::string got;
    for (std::string part : {wire.substr(0, cut), wire.substr(cut)}) {
      std::vector<std::span<const uint8_t>> pieces;
      ASSERT_EQ(reader.payloads(bytesOf(part), pieces), ReadResult::kNeedMore);
      for (auto p : pieces) got.append(reinterpret_cast<const char*>(p.data()), p.size());
    }
    EXPECT_EQ(got, "hello world") << "cut at " << cut;
  }
}

TEST(FrameReader, RefusesAFrameOverTheLimit) {
  FrameReader reader(10);
  std::string wire("\0\0\0\x0b", 4);
  std::vector<std::span<const uint8_t>> pieces;
  EXPECT_EQ(reader.payloads(bytesOf(wire), pieces), ReadResult::kTooLarge);
  EXPECT_EQ(reader.lastLength(), 11u);
  FrameReader packets(10);
  auto in = bytesOf(wire);
  std::string packet;
  EXPECT_EQ(packets.packet(in, packet), ReadResult::kTooLarge);
}

TEST(FrameReader, ReturnsWholePacketsWithTheirLength) {
  std::string wire;
  appendFrames("abc", 1000, wire);
  appendFrames("defg", 1000, wire);
  FrameReader reader(1000);
  std::vector<std::string> got;
  for (char c : wire) {
    std::string one(1, c);
    auto in = bytesOf(one);
    std::string packet;
    if (reader.packet(in, packet) == ReadResult::kMessage) got.push_back(packet);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::string("\0\0\0\x03"
                                "abc",
                                7));
  EXPECT_EQ(got[1], std::string("\0\0\0\x04"
                                "defg",
                                8));
}

TEST(AppendFrames, SplitsAPayloadOverTheFrameLimit) {
  std::string out;
  appendFrames(std::string(25, 'x'), 10, out);
  EXPECT_EQ(out, std::string("\0\0\0\x0a", 4) + std::string(10, 'x') +
                     std::string("\0\0\0\x0a", 4) + std::string(10, 'x') +
                     std::string("\0\0\0\x05", 4) + std::string(5, 'x'));
  std::string none;
  appendFrames("", 10, none);
  EXPECT_EQ(none, "");
}

}  // namespace
}  // namespace thrum::transport::sasl
