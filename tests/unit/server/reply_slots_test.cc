#include "thrum/server/reply_slots.h"

#include <gtest/gtest.h>

namespace thrum::server {
namespace {

std::vector<std::string> take(ReplySlots& slots) {
  std::vector<std::string> out;
  slots.takeReady(out);
  return out;
}

using Strings = std::vector<std::string>;

TEST(ReplySlots, RepliesLeaveInRequestOrderWhateverOrderTheyCome) {
  ReplySlots slots;
  uint64_t a = slots.open(), b = slots.open(), c = slots.open();
  slots.fill(c, "c");
  EXPECT_FALSE(slots.readyAtFront());
  EXPECT_EQ(take(slots), Strings{});  // nothing passes the gap at a
  slots.fill(a, "a");
  EXPECT_EQ(slots.filled(), 2u);
  EXPECT_EQ(take(slots), Strings{"a"});  // b is still owed
  slots.fill(b, "b");
  EXPECT_TRUE(slots.readyAtFront());
  EXPECT_EQ(take(slots), (Strings{"b", "c"}));
  EXPECT_TRUE(slots.empty());
  // Numbers go on from where they were, never reused.
  EXPECT_EQ(slots.open(), c + 1);
}

TEST(ReplySlots, AnOverdueSlotIsAnsweredOnceAndItsLateResultRecognised) {
  ReplySlots slots;
  uint64_t plain = slots.open();
  uint64_t timed = slots.open();
  slots.setDeadline(timed, {.at_ms = 100, .timeout_ms = 50, .seqid = 7, .method = "slow"});
  std::vector<std::pair<uint64_t, ReplySlots::Deadline>> answered;
  auto answer = [&](uint64_t slot, ReplySlots::Deadline d) {
    answered.emplace_back(slot, d);
    slots.fill(slot, "timed out");
  };
  auto never = [] { return false; };

  slots.forEachOverdue(99, answer, never);
  EXPECT_TRUE(answered.empty());
  EXPECT_EQ(slots.late(), 0u);

  slots.forEachOverdue(100, answer, never);
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].first, timed);
  EXPECT_EQ(answered[0].second.method, "slow");
  EXPECT_EQ(answered[0].second.seqid, 7);
  EXPECT_EQ(answered[0].second.timeout_ms, 50);
  EXPECT_EQ(slots.late(), 1u);

  slots.forEachOverdue(1000, answer, never);  // filled now: not again
  EXPECT_EQ(answered.size(), 1u);

  // The timeout's answer waits behind the slot before it.
  EXPECT_EQ(take(slots), Strings{});
  slots.fill(plain, "plain");
  EXPECT_EQ(take(slots), (Strings{"plain", "timed out"}));

  EXPECT_FALSE(slots.takeLate(plain));
  EXPECT_TRUE(slots.takeLate(timed));  // the real result came: dropped
  EXPECT_FALSE(slots.takeLate(timed));
  EXPECT_EQ(slots.late(), 0u);
}

TEST(ReplySlots, OverdueAnswersStopWhenAskedAndLateSlotsOutliveDropAll) {
  ReplySlots slots;
  uint64_t first = slots.open();
  uint64_t second = slots.open();
  slots.setDeadline(first, {.at_ms = 1, .timeout_ms = 1, .seqid = 1, .method = "a"});
  slots.setDeadline(second, {.at_ms = 1, .timeout_ms = 1, .seqid = 2, .method = "b"});
  bool closed = false;
  int answers = 0;
  slots.forEachOverdue(
      5,
      [&](uint64_t slot, const ReplySlots::Deadline&) {
        ++answers;
        slots.fill(slot, "x");
        closed = true;  // as if answering closed the connection
      },
      [&] { return closed; });
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(slots.late(), 1u);
  EXPECT_EQ(slots.filled(), 1u);

  slots.dropAll();
  EXPECT_TRUE(slots.empty());
  EXPECT_EQ(slots.filled(), 0u);
  EXPECT_TRUE(slots.takeLate(first));  // its call still comes back
  EXPECT_FALSE(slots.takeLate(second));
  slots.shrink();
  EXPECT_TRUE(slots.empty());
}

}  // namespace
}  // namespace thrum::server
