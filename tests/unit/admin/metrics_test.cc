#include "thrum/admin/metrics.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace thrum {
namespace {

TEST(Metrics, SameNameIsTheSameCounter) {
  Metrics m;
  Counter& a = m.counter("x.y");
  Counter& b = m.counter("x.y");
  EXPECT_EQ(&a, &b);
  a.inc(3);
  EXPECT_EQ(m.value("x.y"), 3);
  EXPECT_EQ(m.value("never.registered"), 0);
}

TEST(Metrics, SnapshotHoldsCountersAndGauges) {
  Metrics m;
  m.counter("c").inc();
  m.gauge("g").add(-2);
  auto snap = m.snapshot();
  EXPECT_EQ(snap.at("c"), 1);
  EXPECT_EQ(snap.at("g"), -2);
}

TEST(Metrics, CountsFromManyThreads) {
  Metrics m;
  Counter& c = m.counter("hits");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.value("hits"), 40000);
}

}  // namespace
}  // namespace thrum
