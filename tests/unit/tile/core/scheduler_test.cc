#include "services/tile/core/scheduler.h"

#include <gtest/gtest.h>

namespace thrum::tile {
namespace {

using std::chrono::milliseconds;
using Clock = Scheduler::Clock;
using Admit = Scheduler::Admit;

MetatileKey key(int x, int y = 0, int z = 10) {
  return {"world", {z, x * 8, y * 8}};
}

Scheduler::Options options(int slots = 2, int reserved = 0) {
  Scheduler::Options o;
  o.render_slots = slots;
  o.reserved_slots = reserved;
  o.capacity = {4, 4, 4, 4};
  o.aging_step = milliseconds(1000);
  return o;
}

TEST(Scheduler, MoreUrgentClassesStartFirstThenOldestFirst) {
  Scheduler s(options(1));
  auto t = Clock::now();
  s.request(key(1), Priority::kBulk, 0, t);
  s.request(key(2), Priority::kPrefetch, 0, t + milliseconds(1));
  s.request(key(3), Priority::kInteractive, 0, t + milliseconds(2));
  s.request(key(4), Priority::kInteractive, 0, t + milliseconds(3));
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) {
    auto job = s.start(t + milliseconds(10));
    ASSERT_TRUE(job);
    order.push_back(job->key.m.x / 8);
    s.finish(job->key, t);
  }
  EXPECT_EQ(order, (std::vector<int>{3, 4, 2, 1}));
  EXPECT_FALSE(s.start(t));
}

TEST(Scheduler, AFullClassRefusesAndOthersStillAdmit) {
  Scheduler s(options());
  auto t = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.request(key(i), Priority::kBulk, 0, t), Admit::kQueued);
  EXPECT_EQ(s.request(key(9), Priority::kBulk, 0, t), Admit::kFull);
  EXPECT_EQ(s.queued(Priority::kBulk), 4u);
  EXPECT_EQ(s.request(key(9), Priority::kInteractive, 0, t), Admit::kQueued);
}

TEST(Scheduler, RequestsForOneMetatileShareOneJob) {
  Scheduler s(options());
  auto t = Clock::now();
  EXPECT_EQ(s.request(key(1), Priority::kInteractive, 1, t), Admit::kQueued);
  for (WaiterId w = 2; w <= 16; ++w) {
    EXPECT_EQ(s.request(key(1), Priority::kInteractive, w, t), Admit::kJoined);
  }
  auto job = s.start(t);
  ASSERT_TRUE(job);
  EXPECT_EQ(s.request(key(1), Priority::kInteractive, 17, t), Admit::kJoined) << "while rendering";
  EXPECT_FALSE(s.start(t)) << "one render for them all";
  Scheduler::Job done = s.finish(key(1), t);
  EXPECT_EQ(done.waiters.size(), 17u);
}

TEST(Scheduler, ADirtyMarkOnARenderingJobAsksForItAgain) {
  Scheduler s(options());
  auto t = Clock::now();
  s.request(key(1), Priority::kInteractive, 1, t);
  s.request(key(2), Priority::kInteractive, 2, t);
  ASSERT_TRUE(s.start(t));
  EXPECT_EQ(s.request(key(1), Priority::kDirty, 0, t), Admit::kJoined);
  EXPECT_EQ(s.request(key(2), Priority::kDirty, 0, t), Admit::kJoined) << "queued: no need";
  EXPECT_TRUE(s.finish(key(1), t).again) << "its render may have read the old data";
  auto queued_again = s.find(key(1));
  ASSERT_TRUE(queued_again);
  EXPECT_FALSE(queued_again->rendering);
  EXPECT_EQ(queued_again->priority, Priority::kDirty);
  ASSERT_TRUE(s.start(t));
  EXPECT_FALSE(s.finish(key(2), t).again);
}

TEST(Scheduler, AMoreUrgentRequestPromotesAQueuedJob) {
  Scheduler s(options(1));
  auto t = Clock::now();
  s.request(key(1), Priority::kBulk, 0, t);
  s.request(key(2), Priority::kBulk, 0, t + milliseconds(1));
  s.request(key(3), Priority::kPrefetch, 0, t + milliseconds(2));
  EXPECT_EQ(s.request(key(2), Priority::kInteractive, 7, t + milliseconds(3)), Admit::kPromoted);
  EXPECT_EQ(s.queued(Priority::kBulk), 1u);
  EXPECT_EQ(s.queued(Priority::kInteractive), 1u);
  auto job = s.start(t + milliseconds(4));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->key, key(2));
  EXPECT_EQ(s.request(key(3), Priority::kBulk, 0, t), Admit::kJoined) << "never demoted";
}

TEST(Scheduler, BackgroundWorkNeverTakesTheReservedSlot) {
  Scheduler s(options(1, 1));
  auto t = Clock::now();
  for (int i = 0; i < 3; ++i) s.request(key(i), Priority::kBulk, 0, t);
  auto first = s.start(t);
  ASSERT_TRUE(first);
  EXPECT_FALSE(s.start(t)) << "the second slot is kept for live traffic";
  s.request(key(9), Priority::kInteractive, 1, t);
  auto live = s.start(t, /*live=*/true, /*background=*/false);  // as a reserved thread asks
  ASSERT_TRUE(live);
  EXPECT_EQ(live->key, key(9));
  EXPECT_EQ(s.rendering(), 2);
  s.finish(first->key, t);
  EXPECT_FALSE(s.start(t)) << "no background job starts while live work renders";
  s.finish(live->key, t);
  auto next = s.start(t);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->key, key(1));
}

TEST(Scheduler, WithoutYieldingBulkGoesOnBesideLiveWork) {
  Scheduler::Options o = options(1, 1);
  o.background_yields = false;
  Scheduler s(o);
  auto t = Clock::now();
  s.request(key(1), Priority::kBulk, 0, t);
  s.request(key(2), Priority::kBulk, 0, t);
  s.request(key(9), Priority::kInteractive, 1, t);
  ASSERT_TRUE(s.start(t, true, false));  // the live job, on the reserved slot
  auto bulk = s.start(t);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->key, key(1));
}

TEST(Scheduler, AReservedThreadTakesOnlyLiveWork) {
  Scheduler s(options(2, 1));
  auto t = Clock::now();
  s.request(key(1), Priority::kBulk, 0, t);
  EXPECT_FALSE(s.start(t, /*live=*/true, /*background=*/false));
  s.request(key(2), Priority::kPrefetch, 0, t);
  auto live = s.start(t, true, false);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->key, key(2));
}

TEST(Scheduler, AgingLetsABulkBacklogThroughUnderConstantLiveTraffic) {
  Scheduler s(options(1));
  auto t = Clock::now();
  s.request(key(1), Priority::kBulk, 0, t);
  // Fresh interactive work keeps arriving; after three aging steps the bulk
  // job competes as interactive and, being older, goes first.
  for (int i = 0; i < 3; ++i) {
    auto now = t + milliseconds(1000 * i + 10);
    s.request(key(10 + i), Priority::kInteractive, 1, now);
    auto job = s.start(now);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->key, key(10 + i)) << "step " << i;
    s.finish(job->key, now);
  }
  auto now = t + milliseconds(3010);
  s.request(key(20), Priority::kInteractive, 1, now);
  EXPECT_EQ(s.effective(*s.find(key(1)), now), Priority::kInteractive);
  auto job = s.start(now);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->key, key(1));
}

TEST(Scheduler, AJobNobodyWaitsForIsDroppedUnlessItIsBackgroundWork) {
  Scheduler s(options());
  auto t = Clock::now();
  s.request(key(1), Priority::kInteractive, 5, t);
  s.request(key(1), Priority::kInteractive, 6, t);
  EXPECT_FALSE(s.leave(key(1), 5));
  EXPECT_TRUE(s.leave(key(1), 6));
  EXPECT_FALSE(s.find(key(1)));
  EXPECT_EQ(s.queued(Priority::kInteractive), 0u);

  s.request(key(2), Priority::kBulk, 0, t);
  s.request(key(2), Priority::kInteractive, 7, t);  // promoted, still wanted by bulk
  EXPECT_FALSE(s.leave(key(2), 7));
  EXPECT_TRUE(s.find(key(2)));

  Scheduler busy(options());
  busy.request(key(3), Priority::kInteractive, 8, t);
  ASSERT_TRUE(busy.start(t));
  EXPECT_FALSE(busy.leave(key(3), 8)) << "a render under way finishes";
  EXPECT_TRUE(busy.find(key(3)));
}

}  // namespace
}  // namespace thrum::tile
