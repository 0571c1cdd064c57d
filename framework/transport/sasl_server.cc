#include "thrum/transport/sasl_server.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <sasl/sasl.h>

namespace thrum::transport::sasl {
namespace {

// Mechanisms that check a password the client sends as it is: a sasldb or
// saslauthd can verify them.
bool sendsPassword(const std::string& mech) {
  return mech == "PLAIN" || mech == "LOGIN";
}

// Mechanisms that need the password (or a secret made from it) stored: only
// a sasldb has it.
bool needsStoredSecret(const std::string& mech) {
  return mech == "DIGEST-MD5" || mech == "CRAM-MD5" || mech.rfind("SCRAM-", 0) == 0;
}

// Failures that mean "who you say you are did not check out": the client
// hears only that, the log hears Cyrus's detail.
bool isAuthenticationFailure(int rc) {
  return rc == SASL_BADAUTH || rc == SASL_NOUSER || rc == SASL_NOAUTHZ || rc == SASL_EXPIRED ||
         rc == SASL_DISABLED || rc == SASL_NOVERIFY || rc == SASL_BADVERS || rc == SASL_UNAVAIL ||
         rc == SASL_WRONGMECH;
}

}  // namespace

bool checkServerOptions(const endpoint::SaslServerOptions& options, std::string& error) {
  if (!initServerLibrary(error)) return false;
  std::vector<std::string> installed = availableMechanisms();
  for (const std::string& mech : options.mechs) {
    if (std::find(installed.begin(), installed.end(), mech) == installed.end()) {
      std::string list;
      for (const auto& m : installed) list += (list.empty() ? "" : ", ") + m;
      error = "sasl: mechanism " + mech + " is not installed (installed: " + list + ")";
      return false;
    }
    if (sendsPassword(mech) && options.sasldb.empty() && options.saslauthd.empty()) {
      error = "sasl: mechanism " + mech + " checks passwords and needs sasldb= or saslauthd=";
      return false;
    }
    if (needsStoredSecret(mech) && options.sasldb.empty()) {
      error = "sasl: mechanism " + mech + " needs the stored secrets of a sasldb=";
      return false;
    }
  }
  if (!options.sasldb.empty() && access(options.sasldb.c_str(), R_OK) != 0) {
    error = "sasl: sasldb " + options.sasldb + ": " + std::strerror(errno);
    return false;
  }
  if (!options.keytab.empty() && access(options.keytab.c_str(), R_OK) != 0) {
    error = "sasl: keytab " + options.keytab + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

ServerNegotiation::ServerNegotiation(std::shared_ptr<const endpoint::SaslServerOptions> options)
    : options_(std::move(options)) {}

ServerNegotiation::~ServerNegotiation() = default;

ServerNegotiation::Step ServerNegotiation::fail(Status status, std::string payload,
                                                std::string reason) {
  phase_ = Phase::kFinished;
  session_.reset();
  Step s;
  s.state = State::kFailed;
  s.status = status;
  s.reply = true;
  s.reason = reason.empty() ? payload : std::move(reason);
  s.payload = std::move(payload);
  return s;
}

ServerNegotiation::Step ServerNegotiation::receive(const Message& message) {
  switch (phase_) {
    case Phase::kExpectStart:
      if (message.status != Status::kStart) {
        return fail(
            Status::kError,
            "Expecting START status, received " + std::to_string(static_cast<int>(message.status)),
            "");
      }
      return start(message);
    case Phase::kExpectInitial:
    case Phase::kStepping:
      if (message.status != Status::kOk && message.status != Status::kComplete) {
        if (message.status == Status::kBad || message.status == Status::kError) {
          return fail(
              Status::kError, "",
              "client gave up: " + std::string(toString(message.status)) + " " + message.payload);
        }
        return fail(Status::kError,
                    "Expecting OK or COMPLETE status, received " +
                        std::to_string(static_cast<int>(message.status)),
                    "");
      }
      return step(message, phase_ == Phase::kExpectInitial);
    case Phase::kFinished:
      break;
  }
  return fail(Status::kError, "negotiation already finished", "");
}

ServerNegotiation::Step ServerNegotiation::start(const Message& message) {
  const auto& mechs = options_->mechs;
  if (std::find(mechs.begin(), mechs.end(), message.payload) == mechs.end()) {
    // Java's words, with no more of the peer's bytes than a name needs.
    std::string name = message.payload.substr(0, kMaxMechanismEcho);
    if (name.size() < message.payload.size()) name += "...";
    return fail(
        Status::kBad, "Unsupported mechanism type " + name,
        "unsupported mechanism of " + std::to_string(message.payload.size()) + " bytes: " + name);
  }
  mechanism_ = message.payload;
  std::string why;
  session_ = Session::forServer(options_, why);
  if (!session_) return fail(Status::kError, "SASL server unavailable", why);
  if (!session_->setSecurityProperties(options_->qop, why)) {
    return fail(Status::kError, "SASL server unavailable", why);
  }
  phase_ = Phase::kExpectInitial;
  return Step{};  // no reply: the initial response comes next
}

ServerNegotiation::Step ServerNegotiation::step(const Message& message, bool first) {
  const char* out = nullptr;
  unsigned out_len = 0;
  // An empty initial response is "none" (NULL), or CRAM-MD5 fails.
  const char* in = message.payload.empty() && first ? nullptr : message.payload.data();
  auto in_len = static_cast<unsigned>(message.payload.size());
  int rc = first
               ? sasl_server_start(session_->get(), mechanism_.c_str(), in, in_len, &out, &out_len)
               : sasl_server_step(session_->get(), message.payload.data(), in_len, &out, &out_len);
  phase_ = Phase::kStepping;
  if (rc == SASL_CONTINUE) {
    Step s;
    s.status = Status::kOk;
    s.reply = true;
    s.payload.assign(out != nullptr ? out : "", out_len);
    return s;
  }
  if (rc == SASL_OK) return finish(out, out_len);
  std::string detail = mechanism_ + ": " + session_->describe(rc);
  if (isAuthenticationFailure(rc)) return fail(Status::kBad, "Authentication failed", detail);
  if (rc == SASL_TOOWEAK || rc == SASL_ENCRYPT) {
    return fail(Status::kBad, "Mechanism " + mechanism_ + " cannot give the required protection",
                detail);
  }
  return fail(Status::kBad, "SASL negotiation failed", detail);
}

ServerNegotiation::Step ServerNegotiation::finish(const char* out, unsigned out_len) {
  // `out` lives in Cyrus's state: copy it before that can go.
  Step s;
  s.state = State::kDone;
  s.status = Status::kComplete;
  s.reply = true;
  s.payload.assign(out != nullptr ? out : "", out_len);
  std::optional<std::string> user = session_->userName();
  if (!user) return fail(Status::kBad, "Authentication failed", "no user name after success");
  principal_ = std::move(*user);
  if (principal_.find('@') == std::string::npos && !options_->realm.empty()) {
    principal_ += "@" + options_->realm;
  }
  qop_ = qopOfSsf(session_->ssf());
  const auto& allowed = options_->qop;
  if (std::find(allowed.begin(), allowed.end(), std::string(toString(qop_))) == allowed.end()) {
    return fail(Status::kBad,
                "Negotiated protection " + std::string(toString(qop_)) + " is not allowed here",
                "");
  }
  phase_ = Phase::kFinished;
  if (qop_ == Qop::kAuth) session_.reset();  // nothing left to do with Cyrus's state
  return s;
}

std::unique_ptr<SecurityLayer> ServerNegotiation::takeSecurityLayer() {
  if (!session_) return nullptr;
  return std::make_unique<SecurityLayer>(std::move(session_));
}

}  // namespace thrum::transport::sasl
