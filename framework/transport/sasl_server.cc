#include "framework/transport/sasl_server.h"

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

// Cyrus asks each connection for its options; the answers come from the
// endpoint, never from a file.
int endpointOption(void* context, const char* /*plugin*/, const char* option, const char** result,
                   unsigned* len) {
  const auto* o = static_cast<const endpoint::SaslServerOptions*>(context);
  std::string_view name = option;
  const std::string* value = nullptr;
  static const std::string kAuxprop = "auxprop", kSasldb = "sasldb", kSaslauthd = "saslauthd";
  if (name == "pwcheck_method") {
    value = o->saslauthd.empty() ? &kAuxprop : &kSaslauthd;
  } else if (name == "auxprop_plugin") {
    value = &kSasldb;
  } else if (name == "sasldb_path" && !o->sasldb.empty()) {
    value = &o->sasldb;
  } else if (name == "saslauthd_path" && !o->saslauthd.empty()) {
    value = &o->saslauthd;
  } else if (name == "keytab" && !o->keytab.empty()) {
    value = &o->keytab;
  }
  if (value == nullptr) return SASL_FAIL;  // Cyrus's default
  *result = value->c_str();
  if (len != nullptr) *len = static_cast<unsigned>(value->size());
  return SASL_OK;
}

std::string hostnameOrDefault(const std::string& hostname) {
  if (!hostname.empty()) return hostname;
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
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
  return true;
}

ServerNegotiation::ServerNegotiation(std::shared_ptr<const endpoint::SaslServerOptions> options,
                                     std::string local, std::string remote)
    : options_(std::move(options)),
      local_(std::move(local)),
      remote_(std::move(remote)),
      conn_(nullptr, [](sasl_conn_t*) {}) {}

ServerNegotiation::~ServerNegotiation() = default;

ServerNegotiation::Step ServerNegotiation::fail(Status status, std::string payload,
                                                std::string reason) {
  phase_ = Phase::kFinished;
  conn_.reset();
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
  mechanism_ = message.payload;
  const auto& mechs = options_->mechs;
  if (std::find(mechs.begin(), mechs.end(), mechanism_) == mechs.end()) {
    return fail(Status::kBad, "Unsupported mechanism type " + mechanism_, "");
  }
  // Cyrus keeps the pointer: the array lives as long as this object.
  callbacks_ = std::make_unique<sasl_callback_t[]>(2);
  callbacks_[0] = {SASL_CB_GETOPT, callbackProc(endpointOption),
                   const_cast<endpoint::SaslServerOptions*>(options_.get())};
  callbacks_[1] = {SASL_CB_LIST_END, nullptr, nullptr};
  sasl_conn_t* conn = nullptr;
  std::string host = hostnameOrDefault(options_->hostname);
  int rc = sasl_server_new(options_->service.c_str(), host.c_str(),
                           options_->realm.empty() ? nullptr : options_->realm.c_str(),
                           local_.empty() ? nullptr : local_.c_str(),
                           remote_.empty() ? nullptr : remote_.c_str(), callbacks_.get(),
                           SASL_SUCCESS_DATA, &conn);
  if (rc != SASL_OK) {
    if (conn != nullptr) sasl_dispose(&conn);
    return fail(Status::kError, "SASL server unavailable", describe(nullptr, rc));
  }
  conn_ = adoptConn(conn);
  std::string why;
  if (!setSecurityProperties(conn_.get(), options_->qop, why)) {
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
  int rc = first ? sasl_server_start(conn_.get(), mechanism_.c_str(), in, in_len, &out, &out_len)
                 : sasl_server_step(conn_.get(), message.payload.data(), in_len, &out, &out_len);
  phase_ = Phase::kStepping;
  if (rc == SASL_CONTINUE) {
    Step s;
    s.status = Status::kOk;
    s.reply = true;
    s.payload.assign(out != nullptr ? out : "", out_len);
    return s;
  }
  if (rc == SASL_OK) return finish(out, out_len);
  std::string detail = mechanism_ + ": " + describe(conn_.get(), rc);
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
  const void* value = nullptr;
  if (sasl_getprop(conn_.get(), SASL_USERNAME, &value) != SASL_OK || value == nullptr) {
    return fail(Status::kBad, "Authentication failed", "no user name after success");
  }
  principal_ = static_cast<const char*>(value);
  if (principal_.find('@') == std::string::npos && !options_->realm.empty()) {
    principal_ += "@" + options_->realm;
  }
  unsigned ssf = 0;
  if (sasl_getprop(conn_.get(), SASL_SSF, &value) == SASL_OK && value != nullptr) {
    ssf = *static_cast<const unsigned*>(value);
  }
  qop_ = qopOfSsf(ssf);
  const auto& allowed = options_->qop;
  if (std::find(allowed.begin(), allowed.end(), std::string(toString(qop_))) == allowed.end()) {
    return fail(Status::kBad,
                "Negotiated protection " + std::string(toString(qop_)) + " is not allowed here",
                "");
  }
  phase_ = Phase::kFinished;
  if (qop_ == Qop::kAuth) conn_.reset();  // nothing left to do with Cyrus's state
  return s;
}

std::unique_ptr<SecurityLayer> ServerNegotiation::takeSecurityLayer() {
  if (!conn_) return nullptr;
  return std::make_unique<SecurityLayer>(std::move(conn_));
}

}  // namespace thrum::transport::sasl
