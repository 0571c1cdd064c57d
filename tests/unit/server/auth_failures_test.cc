#include "thrum/server/auth_failures.h"

#include <chrono>

#include <gtest/gtest.h>

namespace thrum::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

TEST(AuthFailures, AFewFailuresCostNothingThenTheWaitDoubles) {
  AuthFailures f;
  auto t = AuthFailures::Clock::now();
  for (int i = 0; i < 3; ++i) f.failed("10.0.0.7", t);
  EXPECT_EQ(f.delayFor("10.0.0.7", t), milliseconds(0));
  f.failed("10.0.0.7", t);
  EXPECT_EQ(f.delayFor("10.0.0.7", t), milliseconds(100));
  f.failed("10.0.0.7", t);
  EXPECT_EQ(f.delayFor("10.0.0.7", t), milliseconds(200));
  for (int i = 0; i < 40; ++i) f.failed("10.0.0.7", t);
  EXPECT_EQ(f.delayFor("10.0.0.7", t), milliseconds(10000)) << "capped";
  EXPECT_EQ(f.delayFor("10.0.0.8", t), milliseconds(0)) << "other peers are not slowed";
}

TEST(AuthFailures, ASuccessOrTenQuietMinutesForget) {
  AuthFailures f;
  auto t = AuthFailures::Clock::now();
  for (int i = 0; i < 6; ++i) f.failed("a", t);
  f.succeeded("a");
  EXPECT_EQ(f.delayFor("a", t), milliseconds(0));
  for (int i = 0; i < 6; ++i) f.failed("b", t);
  EXPECT_EQ(f.delayFor("b", t + minutes(11)), milliseconds(0));
  EXPECT_EQ(f.size(), 0u) << "the stale entry is dropped when looked at";
}

TEST(AuthFailures, MemoryIsBoundedByEvictingTheStalest) {
  AuthFailures f(3);
  auto t = AuthFailures::Clock::now();
  f.failed("old", t);
  f.failed("b", t + milliseconds(1));
  f.failed("c", t + milliseconds(2));
  f.failed("d", t + milliseconds(3));
  EXPECT_EQ(f.size(), 3u);
  for (int i = 0; i < 5; ++i) f.failed("d", t + milliseconds(4));
  EXPECT_EQ(f.delayFor("old", t), milliseconds(0));
  EXPECT_GT(f.delayFor("d", t + milliseconds(5)), milliseconds(0));
}

TEST(PeerAddress, DropsThePortAndTheProcess) {
  EXPECT_EQ(peerAddress("10.0.0.7:5123"), "10.0.0.7");
  EXPECT_EQ(peerAddress("[::1]:5123"), "[::1]");
  EXPECT_EQ(peerAddress("unix:pid=812,uid=1000"), "unix:uid=1000");
}

}  // namespace
}  // namespace thrum::server
