// ServerNegotiation without a socket: the state machine of the Thrift SASL
// negotiation driven message by message, with Cyrus and a real sasldb.
#include "thrum/transport/sasl_server.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace thrum::transport::sasl {
namespace {

using State = ServerNegotiation::State;

class SaslServerNegotiation : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string cmd =
        "printf secret | saslpasswd2 -f " + dir_ + "/sasldb -u R -a thrum -p -c alice";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto o = std::make_shared<endpoint::SaslServerOptions>();
    o->mechs = {"PLAIN", "SCRAM-SHA-256"};
    o->sasldb = dir_ + "/sasldb";
    o->realm = "R";
    o->hostname = "localhost";
    std::string error;
    ASSERT_TRUE(checkServerOptions(*o, error)) << error;
    options_ = o;
  }

  std::unique_ptr<ServerNegotiation> negotiation() {
    return std::make_unique<ServerNegotiation>(options_);
  }

  testing::TempDir tmp_{"thrum-sasl"};
  std::string dir_ = tmp_.path();
  std::shared_ptr<const endpoint::SaslServerOptions> options_;
};

Message msg(Status status, std::string payload) {
  return Message{status, std::move(payload)};
}

TEST_F(SaslServerNegotiation, PlainStartWaitsForTheInitialResponseThenCompletes) {
  auto n = negotiation();
  auto start = n->receive(msg(Status::kStart, "PLAIN"));
  EXPECT_EQ(start.state, State::kContinue);
  EXPECT_FALSE(start.reply) << "START alone is not answered";
  auto done = n->receive(msg(Status::kComplete, std::string("\0alice\0secret", 13)));
  EXPECT_EQ(done.state, State::kDone);
  EXPECT_TRUE(done.reply);
  EXPECT_EQ(done.status, Status::kComplete);
  EXPECT_EQ(done.payload, "");
  EXPECT_EQ(n->principal(), "alice@R");
  EXPECT_EQ(n->mechanism(), "PLAIN");
  EXPECT_EQ(n->qop(), Qop::kAuth);
  EXPECT_EQ(n->takeSecurityLayer(), nullptr) << "auth keeps no Cyrus state";
}

TEST_F(SaslServerNegotiation, OkAndCompleteFromTheClientAreTheSame) {
  auto n = negotiation();
  n->receive(msg(Status::kStart, "PLAIN"));
  EXPECT_EQ(n->receive(msg(Status::kOk, std::string("\0alice\0secret", 13))).state, State::kDone);
}

TEST_F(SaslServerNegotiation, WrongPasswordIsBadWithoutDetail) {
  auto n = negotiation();
  n->receive(msg(Status::kStart, "PLAIN"));
  auto step = n->receive(msg(Status::kOk, std::string("\0alice\0guess", 12)));
  EXPECT_EQ(step.state, State::kFailed);
  EXPECT_EQ(step.status, Status::kBad);
  EXPECT_EQ(step.payload, "Authentication failed");
  EXPECT_EQ(step.reason.find("guess"), std::string::npos) << "the log never sees a password";
}

TEST_F(SaslServerNegotiation, UnknownOrUnofferedMechanismIsBad) {
  for (const char* mech : {"CRAM-MD5", "NOPE", "plain"}) {
    auto step = negotiation()->receive(msg(Status::kStart, mech));
    EXPECT_EQ(step.state, State::kFailed);
    EXPECT_EQ(step.status, Status::kBad);
    EXPECT_EQ(step.payload, std::string("Unsupported mechanism type ") + mech);
  }
}

TEST_F(SaslServerNegotiation, ProtocolViolationsAreErrors) {
  auto first = negotiation()->receive(msg(Status::kOk, "PLAIN"));
  EXPECT_EQ(first.status, Status::kError);
  EXPECT_EQ(first.payload, "Expecting START status, received 2");

  auto n = negotiation();
  n->receive(msg(Status::kStart, "PLAIN"));
  auto again = n->receive(msg(Status::kStart, "PLAIN"));
  EXPECT_EQ(again.status, Status::kError);
  EXPECT_EQ(again.payload, "Expecting OK or COMPLETE status, received 1");
  EXPECT_EQ(n->receive(msg(Status::kOk, "")).status, Status::kError) << "finished stays finished";

  auto gave_up = negotiation();
  gave_up->receive(msg(Status::kStart, "PLAIN"));
  auto bad = gave_up->receive(msg(Status::kBad, "client gave up"));
  EXPECT_EQ(bad.state, State::kFailed);
  EXPECT_NE(bad.reason.find("client gave up"), std::string::npos);
}

TEST_F(SaslServerNegotiation, ScramAnswersClientFirstAndRefusesAForgedClientFinal) {
  // A whole SCRAM exchange (Cyrus's client) runs over sockets in sasl_test;
  // here the server's first answer, and a client-final that is not.
  auto n = negotiation();
  n->receive(msg(Status::kStart, "SCRAM-SHA-256"));
  auto first = n->receive(msg(Status::kOk, "n,,n=alice,r=abcdefghijklmnop"));
  EXPECT_EQ(first.state, State::kContinue);
  EXPECT_EQ(first.status, Status::kOk);
  EXPECT_EQ(first.payload.rfind("r=abcdefghijklmnop", 0), 0u) << first.payload;
  auto last = n->receive(msg(Status::kOk, "c=biws,r=wrong,p=AAAA"));
  EXPECT_EQ(last.state, State::kFailed);
  EXPECT_EQ(last.status, Status::kBad);
}

TEST(SaslServerOptions, EveryProblemIsNamed) {
  endpoint::SaslServerOptions o;
  o.mechs = {"SCRAM-SHA-256"};
  std::string error;
  EXPECT_FALSE(checkServerOptions(o, error));
  EXPECT_EQ(error, "sasl: mechanism SCRAM-SHA-256 needs the stored secrets of a sasldb=");
  o.mechs = {"GSSAPI", "NOT-A-MECH"};
  EXPECT_FALSE(checkServerOptions(o, error));
  EXPECT_EQ(error.rfind("sasl: mechanism NOT-A-MECH is not installed (installed: ", 0), 0u);
}

}  // namespace
}  // namespace thrum::transport::sasl
