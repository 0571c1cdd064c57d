#include "thrum/server/connection_limits.h"

#include <gtest/gtest.h>

namespace thrum::server {
namespace {

using Refusal = ConnectionLimits::Refusal;

TEST(ConnectionLimits, CountsOverallAndPerAddressAndGivesPlacesBack) {
  ConnectionLimits limits(3, 2, 0);
  EXPECT_EQ(limits.admit("10.0.0.1"), Refusal::kNone);
  EXPECT_EQ(limits.admit("10.0.0.1"), Refusal::kNone);
  EXPECT_EQ(limits.admit("10.0.0.1"), Refusal::kPerAddress);
  EXPECT_EQ(limits.admit("10.0.0.2"), Refusal::kNone);
  EXPECT_EQ(limits.admit("10.0.0.3"), Refusal::kTotal);  // refusals took no place
  limits.leave("10.0.0.1");
  EXPECT_EQ(limits.admit("10.0.0.3"), Refusal::kNone);
  EXPECT_EQ(limits.limitOf(Refusal::kPerAddress), 2u);
  EXPECT_EQ(ConnectionLimits::name(Refusal::kTotal), "max_connections");
}

TEST(ConnectionLimits, ZeroIsNoLimitAndPrincipalsCountApart) {
  ConnectionLimits limits(0, 0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limits.admit("10.0.0.1"), Refusal::kNone);
  EXPECT_EQ(limits.admitPrincipal("alice"), Refusal::kNone);
  EXPECT_EQ(limits.admitPrincipal("alice"), Refusal::kPerPrincipal);
  EXPECT_EQ(limits.admitPrincipal("bob"), Refusal::kNone);
  limits.leavePrincipal("alice");
  EXPECT_EQ(limits.admitPrincipal("alice"), Refusal::kNone);
}

}  // namespace
}  // namespace thrum::server
