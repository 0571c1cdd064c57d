#include "thrum/server/sasl_handshake.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "thrum/io/thread_check.h"
#include "thrum/server/server_core.h"
#include "thrum/transport/wire.h"

namespace thrum::server {

namespace asio = boost::asio;
using transport::sasl::Status;

namespace {

// The connection's ownership, held by a task on the auth pool. However the
// task ends (run, or dropped unrun by a stopping pool), the reference goes
// back to the connection's I/O thread, so a connection is never destroyed
// on another thread.
class ForeignRef {
 public:
  ForeignRef(std::shared_ptr<void> owner, asio::io_context::executor_type executor)
      : owner_(std::move(owner)), executor_(std::move(executor)) {}
  ForeignRef(const ForeignRef&) = default;  // std::function copies its task
  ForeignRef& operator=(const ForeignRef&) = delete;
  ~ForeignRef() {
    if (owner_) asio::post(executor_, [owner = std::move(owner_)] {});
  }
  std::shared_ptr<void> take() { return std::move(owner_); }

 private:
  std::shared_ptr<void> owner_;
  asio::io_context::executor_type executor_;
};

}  // namespace

SaslHandshake::SaslHandshake(std::shared_ptr<const endpoint::SaslServerOptions> options,
                             ServerCore& core, asio::io_context::executor_type executor,
                             const ConnectionInfo& info, Admission& admission, Host& host)
    : options_(std::move(options)),
      core_(core),
      executor_(std::move(executor)),
      info_(info),
      admission_(admission),
      host_(host),
      reader_(options_->max_negotiation_bytes) {}

void SaslHandshake::receive(std::span<const uint8_t> bytes) {
  pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  negotiate();
}

void SaslHandshake::negotiate() {
  THRUM_ASSERT_ON(executor_);
  using transport::sasl::ReadResult;
  if (stepping_ || done_ || !host_.takesInput()) return;
  std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size());
  transport::sasl::Message message;
  ReadResult r = reader_.next(in, message);
  pending_.erase(0, pending_.size() - in.size());
  switch (r) {
    case ReadResult::kNeedMore:
      return;
    case ReadResult::kBadStatus: {
      std::string why = "Invalid status " + std::to_string(reader_.lastStatusByte());
      return fail(Status::kError, why, CloseReason::kSaslError, why);
    }
    case ReadResult::kTooLarge: {
      std::string why = "Negotiation message of " + std::to_string(reader_.lastLength()) +
                        " bytes is over the limit of " +
                        std::to_string(options_->max_negotiation_bytes);
      return fail(Status::kError, why, CloseReason::kSaslError, why);
    }
    case ReadResult::kMessage:
      break;
  }
  if (admission_.refused()) return refuse();
  stepping_ = true;  // reading waits for the outcome
  if (!negotiation_) negotiation_ = std::make_unique<transport::sasl::ServerNegotiation>(options_);
  // A peer address that keeps failing waits before its next attempt runs.
  auto delay =
      message.status == Status::kStart
          ? core_.auth_failures.delayFor(peerAddress(info_.peer), AuthFailures::Clock::now())
          : std::chrono::milliseconds(0);
  if (delay.count() == 0) return step(std::move(message));
  core_.sasl_throttled.inc();
  auto timer = std::make_shared<asio::steady_timer>(executor_, delay);
  timer->async_wait([this, owner = host_.keepAlive(), timer,
                     m = std::move(message)](const boost::system::error_code&) mutable {
    if (!host_.closed()) step(std::move(m));
  });
}

void SaslHandshake::step(transport::sasl::Message message) {
  auto task = [this, ref = ForeignRef(host_.keepAlive(), executor_),
               m = std::move(message)]() mutable {
    // On the auth pool: Cyrus may block here (password lookups, Kerberos).
    auto outcome = negotiation_->receive(m);
    asio::post(executor_, [this, owner = ref.take(), outcome = std::move(outcome)]() mutable {
      onStep(std::move(outcome));
    });
  };
  if (core_.auth_pool.trySubmit(std::move(task))) {
    core_.sasl_steps.inc();
  } else {
    stepping_ = false;
    fail(Status::kBad, "Server busy: too many authentications in progress", CloseReason::kAuthBusy,
         "auth pool full");
  }
}

void SaslHandshake::onStep(transport::sasl::ServerNegotiation::Step outcome) {
  THRUM_ASSERT_ON(executor_);
  using State = transport::sasl::ServerNegotiation::State;
  stepping_ = false;
  if (host_.closed()) return;
  const std::string& mech = negotiation_->mechanism();
  if (outcome.state == State::kFailed) {
    core_.metrics.counter("sasl.failed." + (mech.empty() ? std::string("none") : mech)).inc();
    return fail(outcome.status, outcome.payload,
                outcome.status == Status::kBad ? CloseReason::kSaslFailed : CloseReason::kSaslError,
                outcome.reason);
  }
  if (outcome.state == State::kContinue) {
    if (outcome.reply) {
      std::string out;
      transport::sasl::appendMessage(outcome.status, outcome.payload, out);
      host_.sendNegotiation(out);
    }
    negotiate();  // the next message may be here already
    host_.resumeReading();
    return;
  }
  // Authenticated: the principal joins the connection's facts, and is
  // counted, before the peer can see the COMPLETE.
  ConnectionSecurity& facts = host_.securityFacts();
  facts.principal = negotiation_->principal();
  facts.sasl_mechanism = negotiation_->mechanism();
  facts.sasl_qop = std::string(transport::sasl::toString(negotiation_->qop()));
  if (!admission_.admitPrincipal()) return refuse();
  core_.sasl_authenticated.inc();
  core_.auth_failures.succeeded(peerAddress(info_.peer));
  core_.failing_addresses.set(static_cast<int64_t>(core_.auth_failures.size()));
  spdlog::debug("connection {} from {}: authenticated as {} ({}, {})", info_.id, info_.peer,
                transport::printable(facts.principal), facts.sasl_mechanism, facts.sasl_qop);
  auto layer = negotiation_->takeSecurityLayer();
  negotiation_.reset();
  done_ = true;
  if (outcome.reply) {
    std::string complete;
    transport::sasl::appendMessage(outcome.status, outcome.payload, complete);
    host_.sendNegotiation(complete);
  }
  std::string early = std::move(pending_);
  pending_ = {};
  host_.authenticated(std::move(layer), std::move(early));
}

void SaslHandshake::refuse() {
  std::string text = admission_.refusal(core_.options.retry_after);
  fail(Status::kError, text, admission_.reason(), text);
}

void SaslHandshake::fail(Status status, const std::string& payload, CloseReason reason,
                         const std::string& log) {
  if (status == Status::kBad) {
    core_.auth_failures.failed(peerAddress(info_.peer), AuthFailures::Clock::now());
    core_.failing_addresses.set(static_cast<int64_t>(core_.auth_failures.size()));
  }
  std::string mech = negotiation_ ? negotiation_->mechanism() : "";
  spdlog::info("connection {} from {}: SASL{}{} failed: {}", info_.id, info_.peer,
               mech.empty() ? "" : " ", mech, transport::printable(log, 512));
  std::string out;
  transport::sasl::appendMessage(status, payload, out);
  host_.sendNegotiation(out);
  host_.negotiationFailed(reason);
}

}  // namespace thrum::server
