// A Bench handler for tests: echo payloads are commands.
//   "throw:std"      throws std::runtime_error("boom") (not declared in the IDL)
//   "throw:int"      throws an int (not even a std::exception)
//   "block"          waits on the gate, then echoes (fire: any payload that
//                    begins with "block" waits on the gate)
//   "sleep:MS:rest"  sleeps MS milliseconds, then echoes the whole payload
//   "remaining"      answers CallContext::remaining() in ms, or "none"
// ping records the CallContext it saw; fire counts.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "Bench.h"
#include "services/bench/bench_handler.h"
#include "tests/support/gate.h"
#include "thrum/dispatch/call_context.h"

namespace thrum::testing {

struct SeenContext {
  std::string peer;
  uint64_t connection_id = 0;
  std::string method;
  int32_t seqid = 0;
  std::chrono::steady_clock::time_point arrived;
  std::string tls_version;
  std::string tls_peer_subject;
  std::vector<std::string> tls_peer_alt_names;
  std::string principal, sasl_mechanism, sasl_qop;
};

class TestHandler : public bench::BenchIf {
 public:
  explicit TestHandler(std::string prefix = "") : prefix_(std::move(prefix)) {}

  void ping() override {
    const CallContext* call = CallContext::current();
    if (call == nullptr) throw std::logic_error("no CallContext in handler");
    const ConnectionSecurity& security = call->connection().security();
    std::lock_guard lock(mu_);
    seen_ = SeenContext{call->peer(),
                        call->connectionId(),
                        std::string(call->method()),
                        call->seqid(),
                        call->arrived(),
                        security.tls_version,
                        security.tls_peer_subject,
                        security.tls_peer_alt_names,
                        security.principal,
                        security.sasl_mechanism,
                        security.sasl_qop};
  }

  void echo(std::string& out, const std::string& payload) override {
    if (payload == "throw:std") throw std::runtime_error("boom");
    if (payload == "throw:int") throw 7;
    if (payload == "block") gate.wait();
    if (payload == "remaining") {
      auto left = CallContext::current()->remaining();
      out =
          left == CallContext::Clock::duration::max()
              ? "none"
              : std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
      return;
    }
    if (payload.rfind("sleep:", 0) == 0) {
      int ms = std::stoi(payload.substr(6));
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    out = prefix_ + payload;
  }

  int64_t work(int32_t micros) override { return real_.work(micros); }

  void fire(const std::string& payload) override {
    if (payload.starts_with("block")) gate.wait();
    fired.fetch_add(1);
  }

  std::optional<SeenContext> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  Gate gate;
  std::atomic<int> fired{0};

 private:
  std::string prefix_;
  bench::BenchHandler real_;
  std::mutex mu_;
  std::optional<SeenContext> seen_;
};

}  // namespace thrum::testing
