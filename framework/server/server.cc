#include "thrum/server/server.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <ostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "thrum/endpoint/host_port.h"
#include "thrum/server/connection.h"
#include "thrum/server/server_core.h"
#include "thrum/transport/sasl_server.h"

namespace thrum {

namespace asio = boost::asio;

Server::Server(std::shared_ptr<apache::thrift::TProcessor> processor, ServerOptions options)
    : options_(options),
      metrics_(std::make_unique<Metrics>()),
      core_(std::make_unique<server::ServerCore>(std::move(processor), options_, *metrics_)) {
  // spdlog builds its registry on first use. Make that happen here, before
  // this server starts any thread that logs, not lazily in a race between them.
  spdlog::default_logger();
}

Server::~Server() {
  (void)stop();  // a failure is logged
}

Status Server::listen(std::string_view spec) {
  std::string why;
  auto endpoint = endpoint::parseListenSpec(spec, why);
  if (!endpoint) return Status::failure(why, std::make_error_code(std::errc::invalid_argument));
  return listen(*endpoint);
}

Status Server::listen(const endpoint::ListenEndpoint& endpoint) {
  auto invalid = [&](const std::string& why) {
    return Status::failure(endpoint.text + ": " + why,
                           std::make_error_code(std::errc::invalid_argument));
  };
  std::string why;
  transport::SslContext tls;
  if (endpoint.isTls()) {
    // Certificates and keys are checked before anything is bound.
    tls = transport::makeServerContext(*endpoint.tls, why);
    if (!tls) return invalid(why);
  }
  std::shared_ptr<const endpoint::SaslServerOptions> sasl;
  if (endpoint.sasl) {
    // Mechanisms and files are checked before anything is bound.
    if (!checkSasl(*endpoint.sasl, why)) return invalid(why);
    sasl = std::make_shared<const endpoint::SaslServerOptions>(*endpoint.sasl);
  }
  boost::system::error_code ec;
  auto listener = endpoint::Listener::open(core_->io.context(0), endpoint, why, &ec);
  if (!listener) return Status::failure(why, ec);
  // Listeners share I/O thread 0; accepted sockets go round-robin to all.
  listeners_.push_back(std::move(listener));
  tls_contexts_.push_back(std::make_unique<std::atomic<std::shared_ptr<SSL_CTX>>>(tls));
  sasl_options_.push_back(std::move(sasl));
  return {};
}

bool Server::checkSasl(const endpoint::SaslServerOptions& options, std::string& why) {
  if (!transport::sasl::checkServerOptions(options, why)) return false;
  if (!options.keytab.empty()) {
    // MIT Kerberos reads the acceptor keytab from the environment, for the
    // whole process: one keytab per server.
    if (!keytab_.empty() && keytab_ != options.keytab) {
      why = "sasl: keytab " + options.keytab + " differs from " + keytab_ +
            " of another endpoint; one process reads one keytab";
      return false;
    }
    keytab_ = options.keytab;
    setenv("KRB5_KTNAME", keytab_.c_str(), 1);  // before start(): no other thread reads it yet
  }
  for (const auto& mech : options.mechs) {
    if (mech == "PLAIN") {
      spdlog::info(
          "sasl: PLAIN sends passwords as they are; use it inside TLS or on a unix socket");
      break;
    }
  }
  return true;
}

void Server::setAuthorizer(Authorizer authorizer) {
  core_->dispatcher.setAuthorizer(std::move(authorizer));
}

void Server::start() {
  if (running_) return;
  running_ = true;
  core_->io.start();
  core_->lanes.start();
  core_->auth_pool.start();
  for (size_t i = 0; i < listeners_.size(); ++i) {
    auto& listener = listeners_[i];
    listener->start([core = core_.get()]() -> asio::io_context& { return core->io.next(); },
                    [core = core_.get(), tls = tls_contexts_[i].get(),
                     sasl = sasl_options_[i]](endpoint::StreamSocket socket) {
                      server::IoThread& thread = core->threadFor(socket.get_executor());
                      auto connection = std::make_shared<server::Connection>(
                          std::move(socket), *core, thread, tls->load(), sasl);
                      // Start on the connection's own I/O thread.
                      asio::post(connection->executor(), [connection] { connection->start(); });
                    },
                    [&paused = core_->metrics.counter("accept.paused")](
                        const boost::system::error_code&) { paused.inc(); });
    spdlog::info("listening on {} ({})", listener->address(), listener->endpoint().text);
  }
}

Status Server::stop() {
  if (!running_) return stopped_;
  running_ = false;
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + options_.drain_timeout;
  // 1. No new connections.
  for (auto& listener : listeners_) listener->close();
  // 2. Drain: each connection answers what it has in flight, then closes.
  core_->registry.startDraining();
  core_->forEachConnection([](server::Connection& c) { c.drain(); });
  if (!core_->registry.waitEmpty(options_.drain_timeout)) {
    spdlog::warn("drain: {} connections still busy after {} ms; closing them",
                 core_->registry.size(), options_.drain_timeout.count());
    core_->forEachConnection(
        [](server::Connection& c) { c.close(server::CloseReason::kDrainTimeout); });
    core_->registry.waitEmpty(std::chrono::seconds(5));
  }
  // 3. Workers and the auth pool: abandon the queues, let running calls
  //    finish until the deadline (closing connections above takes a moment
  //    of its own), join.
  deadline = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  bool workers_done = core_->lanes.stop(deadline);
  bool auth_done = core_->auth_pool.stop(deadline);
  if (!workers_done || !auth_done) {
    for (const auto& call : core_->lanes.running()) {
      spdlog::error(
          "stop: call {} from {} still running after {} ms; it cannot be stopped",
          transport::printable(call.method), call.peer,
          std::chrono::duration_cast<std::chrono::milliseconds>(call.running_for).count());
    }
    if (!auth_done) {
      spdlog::error(
          "stop: {} SASL steps still running (the password or Kerberos back end does "
          "not answer)",
          core_->auth_pool.busy());
    }
  }
  // 4. I/O threads, once they have delivered what the workers handed back
  //    (replies for closed connections are counted as dropped there).
  core_->io.sync();
  core_->io.stop();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started);
  if (workers_done && auth_done) {
    spdlog::info("stopped after draining for {} ms", ms.count());
    stopped_ = {};
  } else {
    stopped_ = Status::failure(std::to_string(core_->lanes.running().size()) + " calls and " +
                               std::to_string(core_->auth_pool.busy()) +
                               " SASL steps still running after " + std::to_string(ms.count()) +
                               " ms of draining");
  }
  return stopped_;
}

uint16_t Server::port(size_t i) const {
  return listeners_.at(i)->port();
}

std::vector<std::string> Server::listeningOn() const {
  std::vector<std::string> out;
  for (const auto& l : listeners_) out.push_back(l->address());
  return out;
}

Status Server::reloadTls() {
  std::vector<transport::SslContext> fresh(listeners_.size());
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const auto& endpoint = listeners_[i]->endpoint();
    if (!endpoint.isTls()) continue;
    std::string why;
    fresh[i] = transport::makeServerContext(*endpoint.tls, why);
    if (!fresh[i]) {
      why = endpoint.text + ": " + why;
      spdlog::error("TLS reload refused, keeping the current certificates: {}", why);
      metrics_->counter("tls.reload_failures").inc();
      return Status::failure(why, std::make_error_code(std::errc::invalid_argument));
    }
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (fresh[i]) tls_contexts_[i]->store(std::move(fresh[i]));
  }
  metrics_->counter("tls.reloads").inc();
  spdlog::info("TLS certificates reloaded");
  return {};
}

size_t Server::openConnections() const {
  return core_->registry.size();
}

void tuneAllocator() {
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
}

namespace {
sigset_t shutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void holdShutdownSignals() {
  sigset_t set = shutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Status listenAndStart(Server& server, const std::vector<std::string>& specs, std::ostream& out) {
  for (const auto& spec : specs) {
    Status listening = server.listen(spec);
    if (!listening) return listening;
  }
  server.start();
  for (const auto& where : server.listeningOn()) out << "listening on " << where << "\n";
  out.flush();
  return {};
}

int runUntilSignal(Server& server) {
  // With the signals blocked everywhere (holdShutdownSignals), sigwait takes
  // them synchronously, including one that arrived before this call.
  holdShutdownSignals();
  sigset_t set = shutdownSignals();
  int signo = 0;
  for (;;) {
    if (sigwait(&set, &signo) != 0) continue;
    if (signo != SIGHUP) break;
    spdlog::info("SIGHUP: reloading TLS certificates");
    (void)server.reloadTls();  // a failure is logged and keeps the old certificates
  }
  spdlog::info("signal {} received; draining", signo);
  if (!server.stop().ok()) {
    // Threads still run handler code that will not return: leave without
    // joining them (the destructors would wait for them forever).
    spdlog::error("exiting with calls still running (exit {})", kExitStuck);
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(kExitStuck);
  }
  return signo;
}

}  // namespace thrum
