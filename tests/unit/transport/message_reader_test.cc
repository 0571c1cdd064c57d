#include "thrum/transport/message_reader.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "Everywhere.h"
#include "tests/support/clients.h"

namespace thrum::transport {
namespace {

using namespace std::string_literals;

using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TMemoryBuffer;
using testing::Stack;

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

test::Everything everything() {
  test::Everything e;
  e.flag_true = true;
  e.flag_false = false;
  e.small = -7;
  e.short_number = -300;
  e.number = 123456789;
  e.big_number = -(int64_t{1} << 40);
  e.ratio = 0.25;
  e.text = "grüße";
  e.blob = std::string("\0\x01\x80\xff", 4);
  e.numbers = {1, -1, 1 << 30};
  e.names = {"a", "bb", ""};
  test::Inner child;
  child.id = 2;
  child.label = "child";
  test::Inner parent;
  parent.id = 1;
  parent.label = "parent";
  parent.__set_children({child, child});
  e.by_name = {{"p", parent}, {"c", child}};
  e.bools = {true, false, true};
  e.nested = {{3, {{{"x", 1.5}}, {}}}, {-4, {}}};
  e.inner = parent;
  e.inners = std::vector<test::Inner>(20, child);  // more than 14: compact's long list form
  e.far_field_id = 99;
  return e;
}

// The bytes a stock client puts on the wire for `count` roundTrip calls.
std::string stockRequests(const Stack& stack, int count) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  std::shared_ptr<apache::thrift::transport::TTransport> trans = buffer;
  if (stack.framing == Framing::kFramed) trans = std::make_shared<TFramedTransport>(buffer);
  std::shared_ptr<apache::thrift::protocol::TProtocol> proto;
  if (stack.protocol == Protocol::kBinary) {
    proto = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(trans);
  } else {
    proto = std::make_shared<apache::thrift::protocol::TCompactProtocol>(trans);
  }
  test::EverywhereClient client(proto);
  test::Everything e = everything();
  for (int i = 0; i < count; ++i) {
    e.number = i;
    client.send_roundTrip(e);
  }
  return buffer->getBufferAsString();
}

class MessageReaderStacks : public ::testing::TestWithParam<Stack> {};

TEST_P(MessageReaderStacks, FindsEveryMessageWhateverTheSplit) {
  const Stack stack = GetParam();
  const std::string wire = stockRequests(stack, 3);
  // Reference: the whole stream in one piece.
  std::vector<InboundMessage> whole;
  {
    MessageReader reader;
    ASSERT_EQ(reader.feed(bytesOf(wire), whole), WireErrc::kOk);
    ASSERT_EQ(whole.size(), 3u);
    EXPECT_TRUE(reader.idle());
    ASSERT_TRUE(reader.format().has_value());
    EXPECT_EQ(reader.format()->framing, stack.framing);
    EXPECT_EQ(reader.format()->protocol, stack.protocol);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(whole[i].header.name, "roundTrip");
      EXPECT_EQ(whole[i].header.type, MessageType::kCall);
    }
  }
  // Every split into two pieces, and byte by byte.
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    MessageReader reader;
    std::vector<InboundMessage> got;
    ASSERT_EQ(reader.feed(bytesOf(wire).first(cut), got), WireErrc::kOk) << "cut " << cut;
    ASSERT_EQ(reader.feed(bytesOf(wire).subspan(cut), got), WireErrc::kOk) << "cut " << cut;
    ASSERT_EQ(got.size(), whole.size()) << "cut " << cut;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].bytes(), whole[i].bytes()) << "cut " << cut;
      EXPECT_EQ(got[i].header.seqid, whole[i].header.seqid);
    }
    EXPECT_TRUE(reader.idle());
  }
  MessageReader reader;
  std::vector<InboundMessage> got;
  for (char c : wire) {
    ASSERT_EQ(reader.feed(bytesOf(std::string_view(&c, 1)), got), WireErrc::kOk);
  }
  ASSERT_EQ(got.size(), whole.size());
  EXPECT_EQ(got.back().bytes(), whole.back().bytes());
}

TEST_P(MessageReaderStacks, MessageBytesDecodeWithTheStockProtocol) {
  const Stack stack = GetParam();
  std::string wire = stockRequests(stack, 1);
  MessageReader reader;
  std::vector<InboundMessage> got;
  ASSERT_EQ(reader.feed(bytesOf(wire), got), WireErrc::kOk);
  ASSERT_EQ(got.size(), 1u);
  std::string message(got[0].bytes());
  auto buffer = std::make_shared<TMemoryBuffer>(reinterpret_cast<uint8_t*>(message.data()),
                                                static_cast<uint32_t>(message.size()));
  std::shared_ptr<apache::thrift::protocol::TProtocol> proto;
  if (stack.protocol == Protocol::kBinary) {
    proto = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(buffer);
  } else {
    proto = std::make_shared<apache::thrift::protocol::TCompactProtocol>(buffer);
  }
  std::string name;
  apache::thrift::protocol::TMessageType type;
  int32_t seqid = 0;
  proto->readMessageBegin(name, type, seqid);
  test::Everywhere_roundTrip_args args;
  args.read(proto.get());
  proto->readMessageEnd();
  test::Everything expected = everything();
  expected.number = 0;
  EXPECT_EQ(args.value, expected);
  EXPECT_EQ(buffer->available_read(), 0u) << "the message ends where the reader cut it";
}

TEST_P(MessageReaderStacks, PartialMessageIsTruncatedAtEndOfStream) {
  const Stack stack = GetParam();
  std::string wire = stockRequests(stack, 1);
  MessageReader reader;
  std::vector<InboundMessage> got;
  ASSERT_EQ(reader.feed(bytesOf(wire).first(wire.size() - 1), got), WireErrc::kOk);
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE(reader.idle());
  EXPECT_EQ(reader.finish(), WireErrc::kTruncated);
}

TEST_P(MessageReaderStacks, RefusesMessageOverTheLimitBeforeBufferingIt) {
  const Stack stack = GetParam();
  std::string wire = stockRequests(stack, 1);
  MessageReader reader(static_cast<uint32_t>(wire.size() / 2));
  std::vector<InboundMessage> got;
  // Only the first few bytes: for framed stacks the length alone condemns it.
  size_t first = stack.framing == Framing::kFramed ? 5 : wire.size();
  EXPECT_EQ(reader.feed(bytesOf(wire).first(first), got), WireErrc::kTooLarge);
  EXPECT_TRUE(got.empty());
  EXPECT_LT(reader.bufferedBytes(), wire.size() / 2);
}

INSTANTIATE_TEST_SUITE_P(AllStockStacks, MessageReaderStacks,
                         ::testing::ValuesIn(testing::kAllStacks),
                         [](const auto& test) { return testing::stackName(test.param); });

WireErrc feedAll(std::string_view bytes, uint32_t max = kDefaultMaxMessageBytes) {
  MessageReader reader(max);
  std::vector<InboundMessage> got;
  WireErrc err = reader.feed(bytesOf(bytes), got);
  if (err != WireErrc::kOk) {
    // An error sticks.
    EXPECT_EQ(reader.feed(bytesOf("\x80"), got), err);
    return err;
  }
  return reader.finish();
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

TEST(MessageReader, RecognisesStrangersByTheirFirstBytes) {
  EXPECT_EQ(feedAll("\x16\x03\x01\x02\x00\x01"s), WireErrc::kLooksLikeTls);
  EXPECT_EQ(feedAll("GET / HTTP/1.1\r\n"), WireErrc::kLooksLikeHttp);
  EXPECT_EQ(feedAll(std::string("\0\0\0\x10hello", 9)), WireErrc::kNotThrift);
}

TEST(MessageReader, RejectsFrameLengthAboveLimit) {
  EXPECT_EQ(feedAll(be32(0x7fffffff) + "\x80"), WireErrc::kTooLarge);
  EXPECT_EQ(feedAll(be32(1025) + "\x80", 1024), WireErrc::kTooLarge);
  EXPECT_EQ(feedAll(be32(0)), WireErrc::kTruncated);  // fewer than 5 bytes: undecided
  EXPECT_EQ(feedAll(be32(0) + "\x80"), WireErrc::kEmptyFrame);
}

TEST(MessageReader, RejectsFrameWhoseProtocolChanges) {
  std::string binary = stockRequests({Framing::kFramed, Protocol::kBinary}, 1);
  std::string compact = stockRequests({Framing::kFramed, Protocol::kCompact}, 1);
  EXPECT_EQ(feedAll(binary + compact), WireErrc::kProtocolMismatch);
}

TEST(MessageReader, RejectsUnknownAndReplyMessageTypes) {
  // Strict binary header, type 5 (no such type), name "x", seqid 1.
  std::string unknown = "\x80\x01\x00\x05"s + be32(1) + "x" + be32(1) + std::string(1, '\0');
  EXPECT_EQ(feedAll(unknown), WireErrc::kUnknownMessageType);
  std::string reply = "\x80\x01\x00\x02"s + be32(1) + "x" + be32(1) + std::string(1, '\0');
  EXPECT_EQ(feedAll(reply), WireErrc::kUnexpectedMessageType);
  EXPECT_EQ(feedAll(be32(static_cast<uint32_t>(unknown.size())) + unknown),
            WireErrc::kUnknownMessageType);
}

TEST(MessageReader, RejectsBadVersionsAndLengths) {
  EXPECT_EQ(feedAll("\x80\x02\x00\x01"s + be32(1) + "x" + be32(1)), WireErrc::kBadVersion);
  EXPECT_EQ(feedAll("\x82\x22\x01\x01x"), WireErrc::kBadVersion);  // compact version 2
  EXPECT_EQ(feedAll("\x80\x01\x00\x01"s + be32(0x80000000u)), WireErrc::kNegativeSize);
  EXPECT_EQ(feedAll("\x80\x01\x00\x01"s + be32(0x10000000u)), WireErrc::kTooLarge);
  // A string field claiming more than the limit.
  std::string call = "\x80\x01\x00\x01"s + be32(1) + "x" + be32(1);
  EXPECT_EQ(feedAll(call + "\x0b\x00\x01"s + be32(0x01000000u), 1 << 20), WireErrc::kTooLarge);
  // A list of 2^31-1 elements.
  EXPECT_EQ(feedAll(call + "\x0f\x00\x01\x08"s + be32(0x7fffffffu)), WireErrc::kTooLarge);
  EXPECT_EQ(feedAll(call + "\x0f\x00\x01\x08"s + be32(0xffffffffu)), WireErrc::kNegativeSize);
  // Field type 1 exists in neither protocol's struct encoding for binary.
  EXPECT_EQ(feedAll(call + "\x01\x00\x01"s), WireErrc::kBadFieldType);
  // A compact varint with no end.
  EXPECT_EQ(feedAll("\x82\x21\xff\xff\xff\xff\xff\xff"), WireErrc::kBadVarint);
}

TEST(MessageReader, RejectsNestingDeeperThanTheLimit) {
  std::string call = "\x80\x01\x00\x01"s + be32(1) + "x" + be32(1);
  std::string deep = call;
  for (size_t i = 0; i < kMaxDepth + 1; ++i) deep += "\x0c\x00\x01"s;
  EXPECT_EQ(feedAll(deep), WireErrc::kTooDeep);
}

TEST(MessageReader, HoldsNoBufferBetweenMessages) {
  std::string wire = stockRequests({Framing::kUnframed, Protocol::kBinary}, 1);
  MessageReader reader;
  std::vector<InboundMessage> got;
  ASSERT_EQ(reader.feed(bytesOf(wire).first(10), got), WireErrc::kOk);
  EXPECT_EQ(reader.bufferedBytes(), 10u);
  ASSERT_EQ(reader.feed(bytesOf(wire).subspan(10), got), WireErrc::kOk);
  EXPECT_TRUE(reader.idle());
  EXPECT_EQ(reader.bufferedBytes(), 0u);
}

TEST(CheckMessage, AcceptsWhatStockClientsSendInEveryStack) {
  for (const Stack& stack : testing::kAllStacks) {
    std::string wire = stockRequests({Framing::kUnframed, stack.protocol}, 1);
    EXPECT_EQ(checkMessage(stack.protocol, wire), WireErrc::kOk) << testing::stackName(stack);
    EXPECT_EQ(checkMessage(stack.protocol, wire.substr(0, wire.size() - 1)), WireErrc::kTruncated)
        << testing::stackName(stack);
  }
}

TEST(CheckMessage, RefusesContainersThatClaimMoreThanTheMessageHolds) {
  std::string call = "\x80\x01\x00\x01"s + be32(4) + "echo" + be32(1);
  // A list<i32> of 2^30+1 elements in a message of 30 bytes: under any
  // frame limit, and 6 * count overflows the int Thrift multiplies it in.
  std::string lie = call + "\x0f\x00\x01\x08"s + be32(0x40000001u) + "\x00\x00\x00\x01\x00"s;
  EXPECT_EQ(checkMessage(Protocol::kBinary, lie), WireErrc::kTruncated);
  // A map, a set and a string, each claiming one item more than there is.
  std::string map = call + "\x0d\x00\x01\x08\x08"s + be32(2) + be32(1) + be32(2) + "\x00"s;
  EXPECT_EQ(checkMessage(Protocol::kBinary, map), WireErrc::kTruncated);
  std::string text = call + "\x0b\x00\x01"s + be32(5) + "four\x00"s;
  EXPECT_EQ(checkMessage(Protocol::kBinary, text), WireErrc::kTruncated);
  // Compact: a list header with a long count and one element.
  std::string compact = "\x82\x21\x01\x04"s + "echo\x19\xf5\xff\xff\xff\x03\x02\x00"s;
  EXPECT_EQ(checkMessage(Protocol::kCompact, compact), WireErrc::kTruncated);
  // Told the truth, the same shapes pass.
  std::string truth = call + "\x0f\x00\x01\x08"s + be32(1) + "\x00\x00\x00\x01\x00"s;
  EXPECT_EQ(checkMessage(Protocol::kBinary, truth), WireErrc::kOk);
}

TEST(MessageReader, MarksUnframedMessagesCheckedAndFramedOnesNot) {
  for (const Stack& stack : testing::kAllStacks) {
    MessageReader reader;
    std::vector<InboundMessage> got;
    ASSERT_EQ(reader.feed(bytesOf(stockRequests(stack, 1)), got), WireErrc::kOk);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].checked, stack.framing == Framing::kUnframed) << testing::stackName(stack);
  }
}

TEST(Printable, EscapesWhatIsNotPrintableAsciiAndCutsLongText) {
  EXPECT_EQ(printable("ping"), "ping");
  EXPECT_EQ(printable("a\nb\x1b[31m\\\xff"s), "a\\x0ab\\x1b[31m\\x5c\\xff");
  EXPECT_EQ(printable(std::string(200, 'x'), 4), "xxxx...");
}

TEST(WireHeader, PeeksMessageTypeWithoutDecoding) {
  std::string reply = "\x80\x01\x00\x03"s + be32(1) + "x" + be32(1);
  EXPECT_EQ(peekMessageType(bytesOf(reply), Protocol::kBinary), MessageType::kException);
  EXPECT_EQ(peekMessageType(bytesOf("\x82\x41"), Protocol::kCompact), MessageType::kReply);
  EXPECT_EQ(peekMessageType(bytesOf("\x82"), Protocol::kCompact), std::nullopt);
}

}  // namespace
}  // namespace thrum::transport
