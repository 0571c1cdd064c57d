#include "thrum/transport/sasl_layer.h"

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "thrum/transport/sasl_session.h"
#include "thrum/transport/sasl_wire.h"

#include <sasl/sasl.h>

namespace thrum::transport::sasl {
namespace {

int logToSpdlog(void* /*context*/, int level, const char* message) {
  switch (level) {
    case SASL_LOG_ERR:
      spdlog::error("sasl: {}", message);
      break;
    case SASL_LOG_FAIL:
    case SASL_LOG_WARN:
      spdlog::info("sasl: {}", message);
      break;
    default:
      spdlog::debug("sasl: {}", message);
  }
  return SASL_OK;
}

// No <app>.conf is read from /etc/sasl2 or /usr/lib/sasl2: the path named
// here holds none.
int privateConfPath(void* /*context*/, const char** path) {
  *path = "/nonexistent/thrum-sasl-config";
  return SASL_OK;
}

const sasl_callback_t kGlobalCallbacks[] = {
    {SASL_CB_LOG, callbackProc(logToSpdlog), nullptr},
    {SASL_CB_GETCONFPATH, callbackProc(privateConfPath), nullptr},
    {SASL_CB_LIST_END, nullptr, nullptr},
};

void* newMutex() {
  return new std::mutex;
}
int lockMutex(void* mutex) {
  static_cast<std::mutex*>(mutex)->lock();
  return SASL_OK;
}
int unlockMutex(void* mutex) {
  static_cast<std::mutex*>(mutex)->unlock();
  return SASL_OK;
}
void freeMutex(void* mutex) {
  delete static_cast<std::mutex*>(mutex);
}

// Cyrus allocates its mutexes as each side starts (the plugins' shared
// state among them), so they must be real before the first init.
void installMutexes() {
  static std::once_flag once;
  std::call_once(once, [] { sasl_set_mutex(newMutex, lockMutex, unlockMutex, freeMutex); });
}

bool initOnce(std::once_flag& once, int& rc, int (*init)(), std::string& error) {
  installMutexes();
  std::call_once(once, [&] { rc = init(); });
  if (rc == SASL_OK) return true;
  error = std::string("cannot start Cyrus SASL: ") + sasl_errstring(rc, nullptr, nullptr);
  return false;
}

}  // namespace

std::string_view toString(Qop qop) {
  switch (qop) {
    case Qop::kAuth:
      return "auth";
    case Qop::kAuthInt:
      return "auth-int";
    case Qop::kAuthConf:
      return "auth-conf";
  }
  return "?";
}

std::optional<Qop> parseQop(std::string_view text) {
  for (Qop q : {Qop::kAuth, Qop::kAuthInt, Qop::kAuthConf}) {
    if (text == toString(q)) return q;
  }
  return std::nullopt;
}

Qop qopOfSsf(unsigned ssf) {
  return ssf == 0 ? Qop::kAuth : ssf == 1 ? Qop::kAuthInt : Qop::kAuthConf;
}

bool initServerLibrary(std::string& error) {
  static std::once_flag once;
  static int rc = SASL_FAIL;
  return initOnce(
      once, rc, [] { return sasl_server_init(kGlobalCallbacks, "thrum"); }, error);
}

bool initClientLibrary(std::string& error) {
  static std::once_flag once;
  static int rc = SASL_FAIL;
  return initOnce(
      once, rc, [] { return sasl_client_init(kGlobalCallbacks); }, error);
}

std::vector<std::string> availableMechanisms() {
  std::vector<std::string> out;
  const char** mechs = sasl_global_listmech();
  for (size_t i = 0; mechs != nullptr && mechs[i] != nullptr; ++i) out.emplace_back(mechs[i]);
  return out;
}

SecurityLayer::SecurityLayer(std::unique_ptr<Session> session)
    : session_(std::move(session)), max_plain_(session_->maxOutBuf()) {
  if (max_plain_ == 0) max_plain_ = 64 * 1024;
  // Peers may allow up to 16 MiB, but newer Java refuses frames over
  // kMaxFrameBytes: leave room for the packet's own overhead.
  max_plain_ = std::min<unsigned>(max_plain_, kMaxFrameBytes - 4096);
}

SecurityLayer::~SecurityLayer() = default;

bool SecurityLayer::encode(std::string_view plain, std::string& out, std::string& error) {
  while (!plain.empty()) {
    size_t n = std::min<size_t>(plain.size(), max_plain_);
    const char* packet = nullptr;
    unsigned len = 0;
    int rc = sasl_encode(session_->get(), plain.data(), static_cast<unsigned>(n), &packet, &len);
    if (rc != SASL_OK) {
      error = "sasl_encode of " + std::to_string(n) + " bytes: " + session_->describe(rc);
      return false;
    }
    out.append(packet, len);  // Cyrus's output starts with the 4-byte length
    plain.remove_prefix(n);
  }
  return true;
}

bool SecurityLayer::decode(std::string_view packet, std::string& out, std::string& error) {
  const char* plain = nullptr;
  unsigned len = 0;
  int rc = sasl_decode(session_->get(), packet.data(), static_cast<unsigned>(packet.size()), &plain,
                       &len);
  if (rc != SASL_OK) {
    // Cyrus's detail can be left over from an earlier call: say the size.
    error = "sasl_decode of a " + std::to_string(packet.size()) + "-byte packet failed (" +
            sasl_errstring(rc, nullptr, nullptr) + ")";
    return false;
  }
  if (len > 0) out.append(plain, len);
  return true;
}

}  // namespace thrum::transport::sasl
