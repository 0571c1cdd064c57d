#include "thrum/io/task_pool.h"

#include <atomic>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/gate.h"
#include "tests/support/wait.h"

namespace thrum::io {
namespace {

TEST(TaskPool, RunsWhatItTakesAndRefusesPastItsQueue) {
  testing::Gate gate;
  TaskPool pool(1, 2, "test-pool");
  pool.start();
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.trySubmit([&] {
    gate.wait();
    ++ran;
  }));
  ASSERT_TRUE(gate.waitForWaiting(1));  // the one thread is busy
  EXPECT_TRUE(pool.trySubmit([&] { ++ran; }));
  EXPECT_TRUE(pool.trySubmit([&] { ++ran; }));
  EXPECT_FALSE(pool.trySubmit([&] { ++ran; })) << "a queue of two is full";
  EXPECT_EQ(pool.queued(), 2u);
  gate.release();
  EXPECT_TRUE(testing::waitFor([&] { return ran == 3; }));
}

TEST(TaskPool, StopLeavesQueuedTasksUnrunAndReleasesWhatTheyHold) {
  testing::Gate gate;
  auto pool = std::make_unique<TaskPool>(1, 8, "test-pool");
  pool->start();
  pool->trySubmit([&] { gate.wait(); });
  ASSERT_TRUE(gate.waitForWaiting(1));
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held;
  bool ran = false;
  pool->trySubmit([held = std::move(held), &ran] { ran = true; });
  std::thread stopper([&] { pool->stop(); });
  ASSERT_TRUE(testing::waitFor([&] { return !pool->running(); }));
  gate.release();
  stopper.join();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(watch.expired()) << "the unrun task's captures were destroyed";
  EXPECT_FALSE(pool->trySubmit([] {})) << "a stopped pool takes nothing";
}

TEST(TaskPool, AStopThatReachesItsDeadlineLeavesTheStuckTaskItsThread) {
  testing::Gate gate;
  TaskPool pool(1, 8, "test-pool");
  pool.start();
  pool.trySubmit([&] { gate.wait(); });
  ASSERT_TRUE(gate.waitForWaiting(1));
  EXPECT_EQ(pool.busy(), 1u);
  EXPECT_FALSE(pool.stop(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  gate.release();
  EXPECT_TRUE(pool.stop()) << "joined once the task is done";
  EXPECT_EQ(pool.busy(), 0u);
}

}  // namespace
}  // namespace thrum::io
