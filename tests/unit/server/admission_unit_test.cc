#include <gtest/gtest.h>

#include "thrum/server/admission.h"
#include "thrum/transport/overload.h"

namespace thrum::server {
namespace {

ConnectionInfo infoFor(std::string peer) {
  ConnectionInfo info;
  info.peer = std::move(peer);
  return info;
}

TEST(Admission, GivesItsPlacesBackExactlyOnce) {
  ConnectionLimits limits(0, 1, 1);
  ConnectionInfo info = infoFor("10.0.0.1:4000");
  {
    Admission admission(limits, info);
    ASSERT_TRUE(admission.admit());
    info.layers = std::make_unique<ConnectionSecurity>();
    info.layers->principal = "alice";
    ASSERT_TRUE(admission.admitPrincipal());
    EXPECT_EQ(limits.admit("10.0.0.1"), ConnectionLimits::Refusal::kPerAddress);
    EXPECT_EQ(limits.admitPrincipal("alice"), ConnectionLimits::Refusal::kPerPrincipal);
    admission.release();
    admission.release();  // nothing more to give back
    EXPECT_EQ(limits.admit("10.0.0.1"), ConnectionLimits::Refusal::kNone);
    limits.leave("10.0.0.1");
  }  // and nothing at destruction either
  Admission again(limits, info);
  EXPECT_TRUE(again.admit());
  EXPECT_TRUE(again.admitPrincipal());
}

TEST(Admission, ARefusalNamesItsLimitAndKeepsNoPlace) {
  ConnectionLimits limits(0, 1, 0);
  ConnectionInfo info = infoFor("10.0.0.7:5123");
  Admission first(limits, info);
  ASSERT_TRUE(first.admit());
  {
    Admission second(limits, info);
    EXPECT_FALSE(second.admit());
    EXPECT_TRUE(second.refused());
    EXPECT_EQ(second.reason(), CloseReason::kMaxConnectionsPerAddress);
    EXPECT_EQ(second.reason().name(), "max_connections_per_address");
    std::string text = second.refusal(std::chrono::milliseconds(250));
    auto overload = transport::parseOverload(text);
    ASSERT_TRUE(overload.has_value()) << text;
    EXPECT_EQ(overload->reason, "max_connections_per_address");
    EXPECT_EQ(overload->retry_after, std::chrono::milliseconds(250));
    EXPECT_NE(text.find("address 10.0.0.7 has 1 connections open"), std::string::npos) << text;
  }  // the refused one gave back nothing it did not take
  EXPECT_EQ(limits.admit("10.0.0.7"), ConnectionLimits::Refusal::kPerAddress);
}

TEST(CloseReason, NamesAreTheCountersNames) {
  EXPECT_EQ(CloseReason(CloseReason::kPeerClosed).name(), "peer_closed");
  EXPECT_EQ(CloseReason(CloseReason::kSaslEncodeFailed).name(), "sasl_encode_failed");
  EXPECT_EQ(CloseReason(transport::WireErrc::kLooksLikeHttp).name(), "looks_like_http");
  EXPECT_EQ(CloseReason::of(ConnectionLimits::Refusal::kTotal).name(),
            ConnectionLimits::name(ConnectionLimits::Refusal::kTotal));
  EXPECT_EQ(CloseReason::of(ConnectionLimits::Refusal::kPerPrincipal).name(),
            ConnectionLimits::name(ConnectionLimits::Refusal::kPerPrincipal));
  EXPECT_NE(CloseReason(transport::WireErrc::kTooLarge),
            CloseReason(transport::WireErrc::kTruncated));
}

}  // namespace
}  // namespace thrum::server
