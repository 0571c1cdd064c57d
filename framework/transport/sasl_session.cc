#include "thrum/transport/sasl_session.h"

#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "thrum/transport/sasl_layer.h"

#include <sasl/sasl.h>

namespace thrum::transport::sasl {
namespace {

// Cyrus asks each server handle for its options; the answers come from the
// endpoint, never from a file. The strings answered live in the options,
// which the Session holds.
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

// The client's name callbacks answer the user: who authenticates and who acts.
int answerUser(void* context, int /*id*/, const char** result, unsigned* len) {
  const auto* user = static_cast<const std::string*>(context);
  *result = user->c_str();
  if (len != nullptr) *len = static_cast<unsigned>(user->size());
  return SASL_OK;
}

int answerPassword(sasl_conn_t* /*conn*/, void* context, int /*id*/, sasl_secret_t** secret) {
  *secret = static_cast<sasl_secret_t*>(context);
  return SASL_OK;
}

std::string hostnameOrDefault(const std::string& hostname) {
  if (!hostname.empty()) return hostname;
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

Session::Session() = default;

Session::~Session() {
  // The handle first: sasl_dispose() still calls back through the array.
  if (conn_ != nullptr) sasl_dispose(&conn_);
  if (secret_) explicit_bzero(secret_.get(), secret_size_);
}

std::unique_ptr<Session> Session::forServer(
    std::shared_ptr<const endpoint::SaslServerOptions> options, std::string& error) {
  if (!initServerLibrary(error)) return nullptr;
  std::unique_ptr<Session> s(new Session());
  s->server_options_ = std::move(options);
  const endpoint::SaslServerOptions& o = *s->server_options_;
  s->callbacks_ = std::make_unique<sasl_callback_t[]>(2);
  s->callbacks_[0] = {SASL_CB_GETOPT, callbackProc(endpointOption),
                      const_cast<endpoint::SaslServerOptions*>(&o)};
  s->callbacks_[1] = {SASL_CB_LIST_END, nullptr, nullptr};
  std::string host = hostnameOrDefault(o.hostname);
  int rc =
      sasl_server_new(o.service.c_str(), host.c_str(), o.realm.empty() ? nullptr : o.realm.c_str(),
                      nullptr, nullptr, s->callbacks_.get(), SASL_SUCCESS_DATA, &s->conn_);
  if (rc != SASL_OK) {
    error = "cannot start a SASL server: " + s->describe(rc);
    return nullptr;  // ~Session disposes of whatever Cyrus made
  }
  return s;
}

std::unique_ptr<Session> Session::forClient(const std::string& service, const std::string& hostname,
                                            std::string user, std::string_view password,
                                            std::string& error) {
  if (!initClientLibrary(error)) return nullptr;
  std::unique_ptr<Session> s(new Session());
  s->user_ = std::move(user);
  s->secret_size_ = sizeof(sasl_secret_t) + password.size();
  s->secret_ = std::make_unique<char[]>(s->secret_size_);
  auto* secret = reinterpret_cast<sasl_secret_t*>(s->secret_.get());
  secret->len = password.size();
  std::memcpy(secret->data, password.data(), password.size());
  s->callbacks_ = std::make_unique<sasl_callback_t[]>(4);
  size_t n = 0;
  if (!s->user_.empty()) {
    s->callbacks_[n++] = {SASL_CB_USER, callbackProc(answerUser), &s->user_};
    s->callbacks_[n++] = {SASL_CB_AUTHNAME, callbackProc(answerUser), &s->user_};
  }
  s->callbacks_[n++] = {SASL_CB_PASS, callbackProc(answerPassword), secret};
  s->callbacks_[n] = {SASL_CB_LIST_END, nullptr, nullptr};
  int rc = sasl_client_new(service.c_str(), hostname.c_str(), nullptr, nullptr, s->callbacks_.get(),
                           SASL_SUCCESS_DATA, &s->conn_);
  if (rc != SASL_OK) {
    error = "cannot start a SASL client: " + s->describe(rc);
    return nullptr;
  }
  return s;
}

bool Session::setSecurityProperties(const std::vector<std::string>& qop, std::string& error) {
  sasl_security_properties_t props{};
  props.min_ssf = 256;
  for (const std::string& name : qop) {
    std::optional<Qop> q = parseQop(name);
    if (!q) {
      error = "qop '" + name + "' is not auth, auth-int or auth-conf";
      return false;
    }
    props.min_ssf = std::min<unsigned>(props.min_ssf, *q == Qop::kAuth      ? 0
                                                      : *q == Qop::kAuthInt ? 1
                                                                            : 2);
    props.max_ssf = std::max<unsigned>(props.max_ssf, *q == Qop::kAuth      ? 0
                                                      : *q == Qop::kAuthInt ? 1
                                                                            : 256);
  }
  props.maxbufsize = 0xFFFFFF;
  int rc = sasl_setprop(conn_, SASL_SEC_PROPS, &props);  // copied by Cyrus
  if (rc == SASL_OK) return true;
  error = describe(rc);
  return false;
}

std::string Session::describe(int rc) const {
  const char* detail = conn_ != nullptr ? sasl_errdetail(conn_) : nullptr;
  return detail != nullptr ? detail : sasl_errstring(rc, nullptr, nullptr);
}

std::optional<std::string> Session::userName() const {
  const void* value = nullptr;
  if (sasl_getprop(conn_, SASL_USERNAME, &value) != SASL_OK || value == nullptr) {
    return std::nullopt;
  }
  return std::string(static_cast<const char*>(value));
}

unsigned Session::ssf() const {
  const void* value = nullptr;
  if (sasl_getprop(conn_, SASL_SSF, &value) != SASL_OK || value == nullptr) return 0;
  return *static_cast<const unsigned*>(value);
}

unsigned Session::maxOutBuf() const {
  const void* value = nullptr;
  if (sasl_getprop(conn_, SASL_MAXOUTBUF, &value) != SASL_OK || value == nullptr) return 0;
  return *static_cast<const unsigned*>(value);
}

}  // namespace thrum::transport::sasl
