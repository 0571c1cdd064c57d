// RenderQueue with a fake backend: threads, coalescing, the order live and
// background work come out in, refusal, cancellation and failures.
#include "services/tile/render/render_queue.h"

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/gate.h"
#include "tests/support/wait.h"

namespace thrum::tile {
namespace {

MetatileKey key(int x) {
  return {"world", {10, x * 8, 0}};
}

// Renders by writing the metatile's name into every tile; can hold renders
// at a gate, and fail on request. Logs setPaused() calls by backend
// (general slots' backends are made first).
class FakeBackend : public RenderBackend {
 public:
  struct Shared {
    std::atomic<int> calls{0};
    testing::Gate* gate = nullptr;
    std::mutex mu;
    std::vector<MetatileKey> order;
    std::vector<std::pair<int, bool>> pauses;  // (backend, paused)
    int backends = 0;
    int fail_x = -1;
  };
  explicit FakeBackend(Shared& s) : s_(s), index_(s.backends++) {}
  void setPaused(bool paused) override {
    std::lock_guard lock(s_.mu);
    s_.pauses.emplace_back(index_, paused);
  }
  bool render(const RenderJob& job, std::vector<std::string>& pngs, std::string& error) override {
    const MetatileKey& k = job.key;
    ++s_.calls;
    {
      std::lock_guard lock(s_.mu);
      s_.order.push_back(k);  // the order renders start in
    }
    if (s_.gate) s_.gate->wait();
    if (k.m.x / 8 == s_.fail_x) {
      error = "style exploded";
      return false;
    }
    pngs.assign(64, "tile of " + std::to_string(k.m.x));
    return true;
  }

 private:
  Shared& s_;
  int index_;
};

Scheduler::Options options(int slots, int reserved) {
  Scheduler::Options o;
  o.render_slots = slots;
  o.reserved_slots = reserved;
  o.capacity = {8, 8, 8, 64};
  return o;
}

struct Fixture {
  FakeBackend::Shared shared;
  std::atomic<int> stored{0};
  std::unique_ptr<RenderQueue> queue;

  explicit Fixture(int slots, int reserved = 0, bool pause = true) {
    queue = std::make_unique<RenderQueue>(
        options(slots, reserved),
        [this](bool, std::string&) { return std::make_unique<FakeBackend>(shared); },
        [this](const MetatileKey&, RenderOutcome&) { ++stored; });
    queue->setPauseBackground(pause);
    std::string error;
    if (!queue->start(error)) throw std::runtime_error(error);
  }
};

TEST(RenderQueue, SixteenRequestsIntoOneMetatileRenderItOnce) {
  testing::Gate gate;
  Fixture f(2);
  f.shared.gate = &gate;
  std::vector<std::future<std::shared_ptr<const RenderOutcome>>> results;
  std::vector<std::shared_ptr<std::promise<std::shared_ptr<const RenderOutcome>>>> promises;
  for (int i = 0; i < 16; ++i) {
    auto p = std::make_shared<std::promise<std::shared_ptr<const RenderOutcome>>>();
    results.push_back(p->get_future());
    f.queue->submit(key(1), Priority::kInteractive, [p](auto outcome) { p->set_value(outcome); });
    promises.push_back(p);
  }
  gate.release();
  for (auto& r : results) {
    auto outcome = r.get();
    EXPECT_TRUE(outcome->ok);
    EXPECT_EQ(outcome->pngs.at(5), "tile of 8");
  }
  EXPECT_EQ(f.shared.calls, 1);
  EXPECT_EQ(f.stored, 1);
  EXPECT_EQ(f.queue->counters().coalesced, 15);
}

TEST(RenderQueue, InteractiveWorkPassesAQueuedBulkBacklog) {
  testing::Gate gate;
  Fixture f(1, 1);  // one slot for anything, one kept for live work
  f.shared.gate = &gate;
  std::atomic<int> bulk_done{0};
  for (int i = 0; i < 30; ++i) {
    f.queue->submit(key(100 + i), Priority::kBulk, [&](auto) { ++bulk_done; });
  }
  ASSERT_TRUE(gate.waitForWaiting(1));  // bulk has its one slot; 29 wait
  EXPECT_EQ(f.queue->rendering(), 1) << "bulk leaves the other slot free";
  std::promise<void> live;
  f.queue->submit(key(1), Priority::kInteractive, [&](auto) { live.set_value(); });
  // The live request is rendering before any of the backlog moved on.
  ASSERT_TRUE(gate.waitForWaiting(2));
  EXPECT_EQ(f.queue->queued(Priority::kBulk), 29u);
  gate.release();
  live.get_future().get();
  ASSERT_TRUE(testing::waitFor([&] { return bulk_done == 30; }));
  std::lock_guard lock(f.shared.mu);
  auto first_live = std::find(f.shared.order.begin(), f.shared.order.end(), key(1));
  EXPECT_EQ(first_live - f.shared.order.begin(), 1) << "second to start, after the bulk job";
}

using Pauses = std::vector<std::pair<int, bool>>;

TEST(RenderQueue, ABackgroundRenderPausesWhileLiveWorkRenders) {
  testing::Gate gate;
  Fixture f(1, 1);  // backend 0 general, backend 1 reserved
  f.shared.gate = &gate;
  std::promise<void> bulk_done;
  f.queue->submit(key(1), Priority::kBulk, [&](auto) { bulk_done.set_value(); });
  ASSERT_TRUE(gate.waitForWaiting(1));
  {
    std::lock_guard lock(f.shared.mu);
    EXPECT_EQ(f.shared.pauses, Pauses{}) << "nothing live: bulk runs on";
  }
  std::promise<void> live_done;
  f.queue->submit(key(2), Priority::kInteractive, [&](auto) { live_done.set_value(); });
  ASSERT_TRUE(gate.waitForWaiting(2));
  {
    std::lock_guard lock(f.shared.mu);
    EXPECT_EQ(f.shared.pauses, (Pauses{{0, true}}));
  }
  EXPECT_EQ(f.queue->counters().pauses, 1);
  gate.release();
  live_done.get_future().get();
  bulk_done.get_future().get();
  ASSERT_TRUE(testing::waitFor([&] { return f.queue->rendering() == 0; }));
  std::lock_guard lock(f.shared.mu);
  EXPECT_EQ(f.shared.pauses, (Pauses{{0, true}, {0, false}})) << "resumed, and never the live one";
}

TEST(RenderQueue, ALiveRequestJoiningAPausedRenderResumesIt) {
  testing::Gate gate;
  Fixture f(1, 1);
  f.shared.gate = &gate;
  f.queue->submit(key(1), Priority::kBulk);
  ASSERT_TRUE(gate.waitForWaiting(1));
  f.queue->submit(key(2), Priority::kInteractive);
  ASSERT_TRUE(gate.waitForWaiting(2));
  // Somebody now waits live for the paused bulk render: it runs on.
  auto joined = f.queue->submit(key(1), Priority::kInteractive, [](auto) {});
  EXPECT_EQ(joined.admit, Scheduler::Admit::kJoined);
  {
    std::lock_guard lock(f.shared.mu);
    EXPECT_EQ(f.shared.pauses, (Pauses{{0, true}, {0, false}}));
  }
  gate.release();
  ASSERT_TRUE(testing::waitFor([&] { return f.shared.calls == 2 && f.queue->rendering() == 0; }));
  std::lock_guard lock(f.shared.mu);
  EXPECT_EQ(f.shared.pauses.size(), 2u) << "not paused again";
}

TEST(RenderQueue, NoPausesWhenTurnedOff) {
  testing::Gate gate;
  Fixture f(1, 1, /*pause=*/false);
  f.shared.gate = &gate;
  f.queue->submit(key(1), Priority::kBulk);
  ASSERT_TRUE(gate.waitForWaiting(1));
  f.queue->submit(key(2), Priority::kInteractive);
  ASSERT_TRUE(gate.waitForWaiting(2));
  gate.release();
  ASSERT_TRUE(testing::waitFor([&] { return f.shared.calls == 2 && f.queue->rendering() == 0; }));
  std::lock_guard lock(f.shared.mu);
  EXPECT_EQ(f.shared.pauses, Pauses{});
}

TEST(RenderQueue, ADirtyMarkDuringARenderRendersItOnceMore) {
  testing::Gate gate;
  Fixture f(1);
  f.shared.gate = &gate;
  f.queue->submit(key(1), Priority::kInteractive);
  ASSERT_TRUE(gate.waitForWaiting(1));
  f.queue->submit(key(1), Priority::kDirty);  // the data changed under the render
  gate.release();
  ASSERT_TRUE(testing::waitFor([&] { return f.shared.calls == 2 && f.queue->rendering() == 0; }));
  EXPECT_EQ(f.stored, 2);
}

TEST(RenderQueue, AFullClassIsRefusedAndCounted) {
  testing::Gate gate;
  Fixture f(1);
  f.shared.gate = &gate;
  f.queue->submit(key(0), Priority::kInteractive);  // rendering, held
  ASSERT_TRUE(gate.waitForWaiting(1));
  for (int i = 1; i <= 8; ++i) {
    EXPECT_EQ(f.queue->submit(key(i), Priority::kInteractive).admit, Scheduler::Admit::kQueued);
  }
  bool called = false;
  auto refused = f.queue->submit(key(9), Priority::kInteractive, [&](auto) { called = true; });
  EXPECT_EQ(refused.admit, Scheduler::Admit::kFull);
  EXPECT_EQ(f.queue->counters().refused, 1);
  gate.release();
  ASSERT_TRUE(testing::waitFor([&] { return f.shared.calls == 9; }));
  EXPECT_FALSE(called);
}

TEST(RenderQueue, ACancelledWaiterIsNotToldAndItsJobIsDropped) {
  testing::Gate gate;
  Fixture f(1);
  f.shared.gate = &gate;
  f.queue->submit(key(0), Priority::kInteractive);
  ASSERT_TRUE(gate.waitForWaiting(1));
  std::atomic<bool> told{false};
  auto s = f.queue->submit(key(1), Priority::kInteractive, [&](auto) { told = true; });
  f.queue->cancel(key(1), s.waiter);
  EXPECT_EQ(f.queue->counters().dropped, 1);
  EXPECT_FALSE(f.queue->find(key(1)));
  gate.release();
  ASSERT_TRUE(testing::waitFor([&] { return f.shared.calls == 1 && f.queue->rendering() == 0; }));
  EXPECT_FALSE(told);
}

TEST(RenderQueue, AFailedRenderReachesEveryWaiterWithItsReason) {
  Fixture f(2);
  f.shared.fail_x = 3;
  std::promise<std::shared_ptr<const RenderOutcome>> p;
  f.queue->submit(key(3), Priority::kInteractive, [&](auto outcome) { p.set_value(outcome); });
  auto outcome = p.get_future().get();
  EXPECT_FALSE(outcome->ok);
  EXPECT_EQ(outcome->error, "style exploded");
  EXPECT_EQ(f.queue->counters().failures, 1);
}

TEST(RenderQueue, StoppingTellsWhoStillWaits) {
  testing::Gate gate;
  auto f = std::make_unique<Fixture>(1);
  f->shared.gate = &gate;
  f->queue->submit(key(0), Priority::kInteractive);
  ASSERT_TRUE(gate.waitForWaiting(1));
  std::promise<std::string> p;
  f->queue->submit(key(1), Priority::kInteractive, [&](auto o) { p.set_value(o->error); });
  std::thread stopper([&] { f->queue->stop(); });
  ASSERT_TRUE(testing::waitFor([&] { return !f->queue->running(); }));
  gate.release();
  stopper.join();
  EXPECT_EQ(p.get_future().get(), "shutting down");
}

}  // namespace
}  // namespace thrum::tile
