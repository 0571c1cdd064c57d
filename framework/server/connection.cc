#include "thrum/server/connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <span>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "thrum/dispatch/call.h"
#include "thrum/server/server_core.h"
#include "thrum/server/sweeper.h"
#include "thrum/server/worker_link.h"
#include "thrum/transport/overload.h"
#include "thrum/transport/sasl_wire.h"

namespace thrum::server {

namespace asio = boost::asio;
using transport::Framing;

namespace {

// Reads land here first, so an idle connection needs no buffer of its own.
constexpr size_t kScratchBytes = 64 * 1024;
// Reads per readiness event before yielding to the thread's other connections.
constexpr int kReadsPerWakeup = 4;

std::span<uint8_t> scratch() {
  thread_local std::unique_ptr<uint8_t[]> buffer(new uint8_t[kScratchBytes]);
  return {buffer.get(), kScratchBytes};
}

bool isInet(const endpoint::StreamSocket& socket) {
  int family = socket.local_endpoint().data()->sa_family;
  return family == AF_INET || family == AF_INET6;
}

// "ADDR:PORT" for TCP; for a unix socket the peer's credentials, which the
// kernel vouches for ("unix:pid=812,uid=1000").
std::string peerOf(const endpoint::StreamSocket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  if (ep.data()->sa_family == AF_UNIX) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(const_cast<endpoint::StreamSocket&>(socket).native_handle(), SOL_SOCKET,
                   SO_PEERCRED, &cred, &len) == 0) {
      return "unix:pid=" + std::to_string(cred.pid) + ",uid=" + std::to_string(cred.uid);
    }
  }
  return endpoint::describeEndpoint(ep);
}

// The call as the worker pool sees it; completing it posts the reply back to
// the connection's I/O thread. It holds its connection through `info`,
// which shares the connection's ownership, and hands that back with the
// reply, so a connection is never released (or destroyed) on a worker.
class ConnectionCall final : public dispatch::Call {
 public:
  ConnectionCall(transport::Protocol protocol, transport::InboundMessage message,
                 std::shared_ptr<const ConnectionInfo> info, size_t headroom,
                 dispatch::CallTimeouts timeouts, Connection& connection, WorkerLink& link,
                 uint64_t slot, std::chrono::milliseconds retry_after)
      : Call(protocol, std::move(message.header), std::move(message.storage), message.offset,
             std::move(info), headroom, timeouts, message.checked),
        connection_(connection),
        link_(link),
        slot_(slot),
        retry_after_(retry_after),
        request_bytes_(request().size()) {}

  void complete(std::string reply) override { post(std::move(reply)); }
  void abandon() override {
    // The pool stopped before the call ran. The request was read whole, so
    // the client is owed an answer rather than silence.
    std::string reply;
    if (!oneway()) {
      reply = transport::encodeOverload(
          protocol(), header(),
          transport::overloadMessage("shutting_down", "the server stopped before the call ran",
                                     retry_after_),
          replyHeadroom());
    }
    post(std::move(reply));
  }

 private:
  void post(std::string reply) {
    link_.push(std::shared_ptr<Connection>(takeConnection(), &connection_), slot_, std::move(reply),
               request_bytes_);
  }

  Connection& connection_;
  WorkerLink& link_;
  uint64_t slot_;
  std::chrono::milliseconds retry_after_;
  size_t request_bytes_;  // what its request holds of the memory budget until done
};

// A connection held by a task on another thread (the auth pool). However the
// task ends (run, or dropped unrun by a stopping pool), its reference goes
// back to the connection's I/O thread, so a connection is never destroyed
// on another thread.
class ForeignRef {
 public:
  explicit ForeignRef(std::shared_ptr<Connection> c) : c_(std::move(c)) {}
  ForeignRef(const ForeignRef&) = default;  // std::function copies its task
  ForeignRef& operator=(const ForeignRef&) = delete;
  ~ForeignRef() {
    if (c_) {
      auto executor = c_->executor();
      asio::post(executor, [c = std::move(c_)] {});
    }
  }
  Connection* operator->() const { return c_.get(); }
  std::shared_ptr<Connection> take() { return std::move(c_); }

 private:
  std::shared_ptr<Connection> c_;
};

}  // namespace

struct Connection::Sasl {
  explicit Sasl(std::shared_ptr<const endpoint::SaslServerOptions> o)
      : options(std::move(o)), reader(options->max_negotiation_bytes) {}

  std::shared_ptr<const endpoint::SaslServerOptions> options;
  // Negotiation: what arrived and is not parsed yet, and the mechanism.
  transport::sasl::NegotiationReader reader;
  std::string pending;
  std::unique_ptr<transport::sasl::ServerNegotiation> negotiation;
  bool stepping = false;  // a step is on the auth pool; reading waits
  bool done = false;
  // Data phase: frames, and the security layer for auth-int/auth-conf.
  std::optional<transport::sasl::FrameReader> frames;
  std::unique_ptr<transport::sasl::SecurityLayer> layer;
};

Connection::Connection(endpoint::StreamSocket socket, ServerCore& core, WorkerLink& link,
                       transport::SslContext tls,
                       std::shared_ptr<const endpoint::SaslServerOptions> sasl)
    : socket_(std::move(socket)),
      core_(core),
      link_(link),
      reader_(core.options.max_message_bytes) {
  info_.id = core_.next_connection_id.fetch_add(1, std::memory_order_relaxed);
  info_.peer = peerOf(socket_);
  if (tls) tls_ = std::make_unique<transport::TlsSession>(tls.get());
  if (sasl) sasl_ = std::make_unique<Sasl>(std::move(sasl));
}

Connection::~Connection() {
  // If it was never closed (its context went first).
  core_.sweeperFor(socket_.get_executor()).remove(this);
  leaveLimits();
}

void Connection::leaveLimits() {
  if (admitted_) core_.limits.leave(peerAddress(info_.peer));
  if (admitted_ && sasl_ && sasl_->done) core_.limits.leavePrincipal(info_.security().principal);
  admitted_ = false;
}

ConnectionSecurity& Connection::securityFacts() {
  if (!info_.layers) info_.layers = std::make_unique<ConnectionSecurity>();
  return *info_.layers;
}

std::string Connection::refusal() const {
  size_t limit = core_.limits.limitOf(refused_);
  std::string holder = refused_ == ConnectionLimits::Refusal::kTotal ? "the server"
                       : refused_ == ConnectionLimits::Refusal::kPerAddress
                           ? "address " + peerAddress(info_.peer)
                           : "principal " + info_.security().principal;
  return transport::overloadMessage(
      ConnectionLimits::name(refused_),
      holder + " has " + std::to_string(limit) + " connections open, the most allowed",
      core_.options.retry_after);
}

void Connection::saslRefuse() {
  std::string text = refusal();
  saslFail(transport::sasl::Status::kError, text, ConnectionLimits::name(refused_), text);
}

void Connection::refuse(std::string_view log) {
  spdlog::debug("connection {} from {}: refused: {}", id(), info_.peer, log);
  lingerClose(ConnectionLimits::name(refused_));
}

void Connection::start() {
  core_.accepted.inc();
  core_.open.add(1);
  boost::system::error_code ec;
  if (isInet(socket_)) socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (!core_.registry.add()) {
    close("shutdown");
    return;
  }
  spdlog::debug("connection {} from {} open", id(), info_.peer);
  born_ms_ = last_active_ms_ = Sweeper::nowMs();
  core_.sweeperFor(socket_.get_executor()).add(this);
  refused_ = core_.limits.admit(peerAddress(info_.peer));
  admitted_ = refused_ == ConnectionLimits::Refusal::kNone;
  // TLS and SASL run under one deadline; a peer that stalls or trickles
  // costs only its own connection. A refused connection gets as long to
  // say something it can be refused in (a call, a SASL message).
  if (!admitted_) {
    armTimer(core_.options.handshake_timeout, ConnectionLimits::name(refused_));
  } else if (handshaking()) {
    armTimer(core_.options.handshake_timeout, "handshake_timeout");
  }
  doWaitReadable();
}

bool Connection::handshaking() const {
  return (tls_ && !tls_->established()) || (sasl_ && !sasl_->done);
}

bool Connection::partialRequest() const {
  return !reader_.idle() || (sasl_ && sasl_->frames && sasl_->frames->midFrame());
}

void Connection::sweep(int64_t now) {
  if (closed_ || lingering_) return;
  const ServerOptions& o = core_.options;
  auto past = [now](int64_t since, std::chrono::milliseconds limit) {
    return limit.count() > 0 && now - since >= limit.count();
  };
  if (!slots_.empty()) answerOverdue(now);  // any slot may have a call deadline
  if (closed_) return;
  if (writing_now_ && past(write_began_ms_, o.write_timeout)) {
    spdlog::info("connection {} from {}: the peer took no reply bytes for {} ms; closing", id(),
                 info_.peer, o.write_timeout.count());
    return close("write_timeout");
  }
  if (handshaking()) return;  // under the handshake deadline
  if (past(born_ms_, o.max_age)) {
    if (past(born_ms_, o.max_age + o.age_grace)) return close("max_age_grace");
    if (!draining_) {
      close_reason_ = "max_age";
      drain();
    }
    return;
  }
  bool quiet = past(last_active_ms_, partialRequest() ? o.request_timeout : o.idle_timeout);
  if (!quiet) return;
  if (partialRequest()) {
    spdlog::info("connection {} from {}: a request stalled for {} ms; closing", id(), info_.peer,
                 o.request_timeout.count());
    return close("request_timeout");
  }
  if (in_flight_ == 0 && !writing_now_ && slots_.empty()) close("idle_timeout");
}

void Connection::armTimer(std::chrono::milliseconds after, std::string_view reason) {
  // A new timer: destroying the old one cancels its wait.
  timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  timer_->expires_after(after);
  timer_->async_wait([self = shared_from_this(), reason,
                      after](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    if (reason == "handshake_timeout") {
      if (!self->handshaking()) return;
      bool in_tls = self->tls_ && !self->tls_->established();
      spdlog::info("connection {} from {}: {} not done in {} ms; closing", self->id(),
                   self->info_.peer, in_tls ? "TLS handshake" : "SASL negotiation", after.count());
      return self->close(in_tls ? "tls_handshake_timeout" : "sasl_timeout");
    }
    self->close(reason);  // the linger time is up
  });
}

bool Connection::tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain) {
  using Result = transport::TlsSession::Result;
  tls_->receive(ciphertext);
  if (!tls_->established()) {
    Result r = tls_->handshake();
    flushTls();  // handshake messages, or the alert that explains a failure
    if (r == Result::kError) {
      spdlog::info("connection {} from {}: TLS handshake failed: {}", id(), info_.peer,
                   tls_->error());
      closeWhenDone("tls_handshake_failed");
      return false;
    }
    if (!tls_->established()) return true;            // more handshake bytes to come
    if (!handshaking() && admitted_) timer_.reset();  // a refused one keeps its deadline
    core_.tls_handshakes.inc();
    if (tls_->resumed()) core_.tls_resumed.inc();
    ConnectionSecurity& facts = securityFacts();
    facts.tls_version = tls_->version();
    facts.tls_peer_subject = tls_->peerSubject();
    facts.tls_peer_alt_names = tls_->peerAltNames();
  }
  Result r = tls_->read(plain);
  flushTls();
  if (tls_->renegotiationRefused()) {
    spdlog::info("connection {} from {}: TLS renegotiation refused; closing", id(), info_.peer);
    closeWhenDone("tls_renegotiation");
    return false;
  }
  if (r == Result::kClosed) {
    closeWhenDone("peer_closed");  // as for a FIN: what is in flight is answered
    return false;
  }
  if (r == Result::kError) {
    spdlog::info("connection {} from {}: TLS error: {}", id(), info_.peer, tls_->error());
    closeWhenDone("tls_error");
    return false;
  }
  return true;
}

void Connection::flushTls() {
  tls_->takeOutput(wire_out_);
  doWrite();
}

void Connection::sendRaw(std::string_view bytes) {
  if (tls_) {
    tls_->write(bytes);
    tls_->takeOutput(wire_out_);
  } else {
    wire_out_.append(bytes);
  }
  doWrite();
}

void Connection::doWaitReadable() {
  reading_ = true;
  socket_.async_wait(
      endpoint::StreamSocket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->onReadable(ec); });
}

void Connection::onReadable(const boost::system::error_code& wait_ec) {
  reading_ = false;
  if (closed_) return;
  if (wait_ec) {
    if (wait_ec == asio::error::operation_aborted) return maybeClose();  // drain cancelled it
    return close("io_error");
  }

  last_active_ms_ = Sweeper::nowMs();  // readable: bytes, or the end
  std::span<uint8_t> buf = scratch();
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec == asio::error::eof) {
      transport::WireErrc err = reader_.finish();
      // The peer sends no more, but may still read: what it asked for is
      // answered, then the connection closes.
      if (err == transport::WireErrc::kOk) return closeWhenDone("peer_closed");
      spdlog::info("connection {} from {}: {}", id(), info_.peer, make_error_code(err).message());
      return close(shortName(err));
    }
    if (ec == asio::error::connection_reset) return close("peer_reset");
    if (ec) return close("io_error");

    std::span<const uint8_t> bytes = buf.first(n);
    thread_local std::string plain;
    if (tls_) {
      plain.clear();
      if (!tlsReceive(bytes, plain)) return;
      bytes = {reinterpret_cast<const uint8_t*>(plain.data()), plain.size()};
    }
    if (!(sasl_ ? saslReceive(bytes) : feedRequests(bytes))) return;
    if (n < buf.size() || !wantRead()) break;
  }
  if (wantRead()) doWaitReadable();
}

bool Connection::feedRequests(std::span<const uint8_t> bytes) {
  thread_local std::vector<transport::InboundMessage> messages;
  messages.clear();
  transport::WireErrc err = reader_.feed(bytes, messages);
  for (auto& m : messages) submit(std::move(m));
  if (err == transport::WireErrc::kOk) return true;
  // Requests before the bad bytes were well-formed: answer them, then close.
  spdlog::info("connection {} from {}: {}; closing", id(), info_.peer,
               make_error_code(err).message());
  closeWhenDone(shortName(err));
  return false;
}

bool Connection::saslReceive(std::span<const uint8_t> bytes) {
  if (sasl_->done) return saslData(bytes);
  sasl_->pending.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  saslNegotiate();
  return !closed_ && close_reason_.empty();
}

void Connection::saslNegotiate() {
  using transport::sasl::ReadResult;
  using transport::sasl::Status;
  if (sasl_->stepping || sasl_->done || closed_ || !close_reason_.empty()) return;
  std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(sasl_->pending.data()),
                              sasl_->pending.size());
  transport::sasl::Message message;
  ReadResult r = sasl_->reader.next(in, message);
  sasl_->pending.erase(0, sasl_->pending.size() - in.size());
  switch (r) {
    case ReadResult::kNeedMore:
      return;
    case ReadResult::kBadStatus: {
      std::string why = "Invalid status " + std::to_string(sasl_->reader.lastStatusByte());
      return saslFail(Status::kError, why, "sasl_error", why);
    }
    case ReadResult::kTooLarge: {
      std::string why = "Negotiation message of " + std::to_string(sasl_->reader.lastLength()) +
                        " bytes is over the limit of " +
                        std::to_string(sasl_->options->max_negotiation_bytes);
      return saslFail(Status::kError, why, "sasl_error", why);
    }
    case ReadResult::kMessage:
      break;
  }
  if (refused_ != ConnectionLimits::Refusal::kNone) return saslRefuse();
  sasl_->stepping = true;  // reading waits for the outcome
  if (!sasl_->negotiation) {
    sasl_->negotiation = std::make_unique<transport::sasl::ServerNegotiation>(sasl_->options);
  }
  // A peer address that keeps failing waits before its next attempt runs.
  auto delay =
      message.status == Status::kStart
          ? core_.auth_failures.delayFor(peerAddress(info_.peer), AuthFailures::Clock::now())
          : std::chrono::milliseconds(0);
  if (delay.count() == 0) return saslStep(std::move(message));
  core_.sasl_throttled.inc();
  auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(), delay);
  timer->async_wait([self = shared_from_this(), timer,
                     m = std::move(message)](const boost::system::error_code&) mutable {
    if (!self->closed_) self->saslStep(std::move(m));
  });
}

void Connection::saslStep(transport::sasl::Message message) {
  auto task = [ref = ForeignRef(shared_from_this()), m = std::move(message)]() mutable {
    // On the auth pool: Cyrus may block here (password lookups, Kerberos).
    auto step = ref->sasl_->negotiation->receive(m);
    auto executor = ref->executor();
    asio::post(executor, [self = ref.take(), step = std::move(step)]() mutable {
      self->onSaslStep(std::move(step));
    });
  };
  if (core_.auth_pool.trySubmit(std::move(task))) {
    core_.sasl_steps.inc();
  } else {
    sasl_->stepping = false;
    saslFail(transport::sasl::Status::kBad, "Server busy: too many authentications in progress",
             "auth_busy", "auth pool full");
  }
}

void Connection::onSaslStep(transport::sasl::ServerNegotiation::Step step) {
  using State = transport::sasl::ServerNegotiation::State;
  sasl_->stepping = false;
  if (closed_) return;
  const std::string& mech = sasl_->negotiation->mechanism();
  if (step.state == State::kFailed) {
    core_.metrics.counter("sasl.failed." + (mech.empty() ? std::string("none") : mech)).inc();
    return saslFail(step.status, step.payload,
                    step.status == transport::sasl::Status::kBad ? "sasl_failed" : "sasl_error",
                    step.reason);
  }
  auto reply = [&] {
    if (!step.reply) return;
    std::string out;
    transport::sasl::appendMessage(step.status, step.payload, out);
    sendRaw(out);
  };
  if (step.state == State::kContinue) {
    reply();
    saslNegotiate();  // the next message may be here already
    if (!reading_ && wantRead()) doWaitReadable();
    return;
  }
  // Authenticated: the principal joins the connection's facts, and is
  // counted, before the peer can see the COMPLETE.
  auto& negotiation = *sasl_->negotiation;
  ConnectionSecurity& facts = securityFacts();
  facts.principal = negotiation.principal();
  facts.sasl_mechanism = negotiation.mechanism();
  facts.sasl_qop = std::string(transport::sasl::toString(negotiation.qop()));
  refused_ = core_.limits.admitPrincipal(facts.principal);
  if (refused_ != ConnectionLimits::Refusal::kNone) return saslRefuse();
  core_.sasl_authenticated.inc();
  core_.auth_failures.succeeded(peerAddress(info_.peer));
  core_.failing_addresses.set(static_cast<int64_t>(core_.auth_failures.size()));
  spdlog::debug("connection {} from {}: authenticated as {} ({}, {})", id(), info_.peer,
                transport::printable(facts.principal), facts.sasl_mechanism, facts.sasl_qop);
  sasl_->layer = negotiation.takeSecurityLayer();
  sasl_->negotiation.reset();
  sasl_->done = true;
  sasl_->frames.emplace(core_.options.max_message_bytes + 1024);
  if (!handshaking()) timer_.reset();
  reply();
  std::string early = std::move(sasl_->pending);
  sasl_->pending = {};
  if (!early.empty() && !saslData({reinterpret_cast<const uint8_t*>(early.data()), early.size()})) {
    return;
  }
  if (!reading_ && wantRead()) doWaitReadable();
}

void Connection::saslFail(transport::sasl::Status status, const std::string& payload,
                          std::string_view close_reason, const std::string& log) {
  if (status == transport::sasl::Status::kBad) {
    core_.auth_failures.failed(peerAddress(info_.peer), AuthFailures::Clock::now());
    core_.failing_addresses.set(static_cast<int64_t>(core_.auth_failures.size()));
  }
  std::string mech = sasl_->negotiation ? sasl_->negotiation->mechanism() : "";
  spdlog::info("connection {} from {}: SASL{}{} failed: {}", id(), info_.peer,
               mech.empty() ? "" : " ", mech, transport::printable(log, 512));
  std::string out;
  transport::sasl::appendMessage(status, payload, out);
  sendRaw(out);
  lingerClose(close_reason);
}

bool Connection::saslData(std::span<const uint8_t> bytes) {
  using transport::sasl::ReadResult;
  auto tooLarge = [&] {
    spdlog::info("connection {} from {}: SASL frame of {} bytes over the limit; closing", id(),
                 info_.peer, sasl_->frames->lastLength());
    closeWhenDone("too_large");
    return false;
  };
  if (!sasl_->layer) {
    thread_local std::vector<std::span<const uint8_t>> pieces;
    pieces.clear();
    ReadResult r = sasl_->frames->payloads(bytes, pieces);
    for (auto piece : pieces) {
      if (!feedRequests(piece)) return false;
    }
    return r == ReadResult::kTooLarge ? tooLarge() : true;
  }
  thread_local std::string plain, packet;
  plain.clear();
  for (;;) {
    ReadResult r = sasl_->frames->packet(bytes, packet);
    if (r == ReadResult::kTooLarge) return tooLarge();
    if (r == ReadResult::kNeedMore) break;
    std::string error;
    if (!sasl_->layer->decode(packet, plain, error)) {
      spdlog::info("connection {} from {}: {}; closing", id(), info_.peer, error);
      closeWhenDone("sasl_decode_failed");
      return false;
    }
  }
  return plain.empty() ||
         feedRequests({reinterpret_cast<const uint8_t*>(plain.data()), plain.size()});
}

bool Connection::saslWrap(std::vector<std::string>& batch) {
  if (sasl_->layer) {
    std::string plain;
    for (const auto& r : batch) plain += r;
    std::string packets, error;
    if (!sasl_->layer->encode(plain, packets, error)) {
      spdlog::info("connection {} from {}: {}; closing", id(), info_.peer, error);
      return false;
    }
    batch.assign(1, std::move(packets));
    return true;
  }
  size_t total = 0;
  for (const auto& r : batch) total += r.size();
  if (total <= transport::sasl::kMaxFrameBytes) {
    // One frame around the whole batch: its header is one more buffer.
    std::string header;
    transport::appendBe32(static_cast<uint32_t>(total), header);
    batch.insert(batch.begin(), std::move(header));
    return true;
  }
  std::string plain;
  for (const auto& r : batch) plain += r;
  std::string frames;
  transport::sasl::appendFrames(plain, transport::sasl::kMaxFrameBytes, frames);
  batch.assign(1, std::move(frames));
  return true;
}

bool Connection::wantRead() const {
  return !closed_ && !draining_ && close_reason_.empty() && !(sasl_ && sasl_->stepping) &&
         in_flight_ < core_.options.max_in_flight_per_connection &&
         reply_bytes_ < core_.options.max_reply_bytes_per_connection &&
         buffered_ <= core_.bufferShare();
}

void Connection::buffer(int64_t bytes) {
  buffered_ = static_cast<size_t>(static_cast<int64_t>(buffered_) + bytes);
  core_.buffered_bytes.add(bytes);
}

size_t Connection::headroom() const {
  return reader_.format()->framing == Framing::kFramed ? 4 : 0;
}

void Connection::submit(transport::InboundMessage message) {
  core_.calls_received.inc();
  transport::Protocol protocol = reader_.format()->protocol;
  bool oneway = message.header.type == transport::MessageType::kOneway;
  uint64_t slot = kNoSlot;
  if (!oneway) {
    slot = first_slot_ + slots_.size();
    slots_.emplace_back();
  }
  auto answer = [&](const transport::MessageHeader& header, const std::string& text) {
    if (oneway) {
      core_.oneway_dropped.inc();  // a oneway call has no way to hear "no"
      return;
    }
    fillSlot(slot, transport::encodeOverload(protocol, header, text, headroom()));
  };
  if (refused_ != ConnectionLimits::Refusal::kNone) {
    answer(message.header, refusal());
    return refuse(message.header.name);
  }
  size_t request_bytes = message.storage.size() - message.offset;
  if (buffered_ + request_bytes > core_.bufferShare()) {
    core_.rejected_memory.inc();
    return answer(message.header,
                  transport::overloadMessage(
                      "memory",
                      "the server holds " + std::to_string(core_.buffered_bytes.value()) +
                          " bytes of requests and replies, its budget being " +
                          std::to_string(core_.options.max_buffered_bytes) +
                          ", and this call would take its connection past its share",
                      core_.options.retry_after));
  }
  dispatch::Lanes::Route route = core_.lanes.route(message.header.name);
  dispatch::WorkerPool& pool = core_.lanes.pool(route.lane);
  if (!oneway && route.timeouts.call.count() > 0) {
    Slot& s = slots_.back();
    s.timeout_ms = route.timeouts.call.count();
    s.deadline_ms = Sweeper::nowMs() + s.timeout_ms;
    s.seqid = message.header.seqid;
    s.method = message.header.name;
  }
  std::unique_ptr<dispatch::Call> call = std::make_unique<ConnectionCall>(
      protocol, std::move(message),
      std::shared_ptr<const ConnectionInfo>(shared_from_this(), &info_), headroom(), route.timeouts,
      *this, link_, slot, core_.options.retry_after);
  if (pool.trySubmit(call, /*wake=*/false)) {
    ++in_flight_;
    buffer(static_cast<int64_t>(request_bytes));
    link_.submitted(route.lane);
    return;
  }
  core_.rejected_queue_full.inc();
  answer(call->header(), transport::overloadMessage(
                             "queue_full",
                             "lane " + pool.name() + " has " + std::to_string(pool.capacity()) +
                                 " calls waiting for a worker, the most it queues",
                             core_.options.retry_after));
}

void Connection::onCallDone(uint64_t slot, std::string reply, size_t request_bytes) {
  --in_flight_;
  buffer(-static_cast<int64_t>(request_bytes));
  auto late = std::find(late_slots_.begin(), late_slots_.end(), slot);
  if (slot != kNoSlot && late != late_slots_.end()) {
    late_slots_.erase(late);
    core_.running_late.add(-1);
    core_.replies_late.inc();
  } else if (closed_) {
    if (slot != kNoSlot) core_.replies_dropped.inc();
    return;
  } else if (slot != kNoSlot) {
    fillSlot(slot, std::move(reply));
  }
  if (closed_) return;
  if (!reading_ && wantRead()) doWaitReadable();
  maybeClose();
}

void Connection::answerOverdue(int64_t now_ms) {
  for (size_t i = 0; i < slots_.size() && !closed_; ++i) {
    Slot& s = slots_[i];
    if (s.ready || s.deadline_ms == 0 || now_ms < s.deadline_ms) continue;
    uint64_t slot = first_slot_ + i;
    late_slots_.push_back(slot);
    core_.calls_timed_out.inc();
    core_.running_late.add(1);
    spdlog::info(
        "connection {} from {}: call {} (seqid {}) not answered within {} ms; answered "
        "call_timeout, its result will be dropped",
        id(), info_.peer, transport::printable(s.method), s.seqid, s.timeout_ms);
    transport::MessageHeader header{.name = std::move(s.method), .seqid = s.seqid};
    fillSlot(slot,
             transport::encodeOverload(reader_.format()->protocol, header,
                                       transport::callTimeoutMessage(
                                           header.name, std::chrono::milliseconds(s.timeout_ms)),
                                       headroom()));
  }
}

void Connection::fillSlot(uint64_t slot, std::string reply) {
  Slot& s = slots_[slot - first_slot_];
  s.ready = true;
  s.reply = std::move(reply);
  reply_bytes_ += s.reply.size();
  buffer(static_cast<int64_t>(s.reply.size()));
  if (reader_.format()->framing == Framing::kFramed) {
    transport::storeBe32(static_cast<uint32_t>(s.reply.size() - 4), s.reply.data());
  }
  doWrite();
}

void Connection::doWrite() {
  if (writing_now_ || closed_) return;
  size_t ready = 0;
  while (ready < slots_.size() && slots_[ready].ready) ++ready;
  if (ready == 0 && wire_out_.empty()) return;
  writing_bytes_ = 0;
  for (size_t i = 0; i < ready; ++i) {
    writing_bytes_ += slots_[i].reply.size();
    writing_.push_back(std::move(slots_[i].reply));
  }
  slots_.erase(slots_.begin(), slots_.begin() + static_cast<ptrdiff_t>(ready));
  first_slot_ += ready;
  writing_replies_ = ready;
  if (ready > 0 && sasl_ && !saslWrap(writing_)) {
    core_.replies_dropped.inc(ready);
    writing_.clear();
    return close("sasl_encode_failed");
  }
  if (tls_) {
    // Encrypt the batch into one run of records behind any handshake bytes.
    std::string cipher = std::move(wire_out_);
    for (const auto& reply : writing_) tls_->write(reply);
    tls_->takeOutput(cipher);
    writing_.assign(1, std::move(cipher));
  } else if (!wire_out_.empty()) {
    writing_.insert(writing_.begin(), std::move(wire_out_));
  }
  wire_out_.clear();
  write_buffers_.clear();
  for (const auto& r : writing_) write_buffers_.push_back(asio::buffer(r));
  writing_now_ = true;
  write_began_ms_ = Sweeper::nowMs();
  // A span, so the operation does not copy the vector.
  asio::async_write(socket_, std::span<const asio::const_buffer>(write_buffers_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->onWrite(ec);
                    });
}

void Connection::onWrite(const boost::system::error_code& ec) {
  writing_now_ = false;
  if (closed_) return;
  if (ec) {
    core_.replies_dropped.inc(writing_replies_);
    writing_.clear();
    // A peer that has gone, after saying so, is counted as what it did.
    if (!close_reason_.empty()) return close(close_reason_);
    bool reset = ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
    return close(reset ? "peer_reset" : "io_error");
  }
  core_.replies_written.inc(writing_replies_);
  last_active_ms_ = Sweeper::nowMs();
  reply_bytes_ -= writing_bytes_;
  buffer(-static_cast<int64_t>(writing_bytes_));
  writing_bytes_ = 0;
  writing_.clear();
  if (slots_.empty() && wire_out_.empty() && in_flight_ == 0) {
    // Idle again: an idle connection keeps no per-call storage.
    std::vector<std::string>().swap(writing_);
    std::vector<asio::const_buffer>().swap(write_buffers_);
    std::vector<Slot>().swap(slots_);
  }
  doWrite();
  if (!reading_ && wantRead()) doWaitReadable();
  maybeClose();
}

void Connection::drain() {
  if (closed_) return;
  draining_ = true;
  if (reading_) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);  // the wait completes with operation_aborted
  }
  maybeClose();
}

void Connection::closeWhenDone(std::string_view reason) {
  close_reason_ = reason;
  maybeClose();
}

void Connection::lingerClose(std::string_view reason) {
  linger_ = true;
  closeWhenDone(reason);
}

void Connection::maybeClose() {
  if (closed_ || lingering_ || (!draining_ && close_reason_.empty())) return;
  // Calls a call timeout answered owe nothing more; their results are dropped.
  if (in_flight_ != late_slots_.size() || writing_now_ || !slots_.empty()) return;
  std::string_view reason = close_reason_.empty() ? "shutdown" : close_reason_;
  if (!linger_ || draining_) return close(reason);
  // Everything is written: say so with a FIN, and read until the peer
  // closes, so its kernel does not answer unread bytes with a reset that
  // could overtake the reason it has yet to read.
  lingering_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(endpoint::StreamSocket::shutdown_send, ignored);
  armTimer(kLingerTime, reason);
  doDiscard();
}

void Connection::doDiscard() {
  socket_.async_wait(endpoint::StreamSocket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->onDiscardable(ec);
                     });
}

void Connection::onDiscardable(const boost::system::error_code& wait_ec) {
  if (closed_) return;
  if (wait_ec) return close(close_reason_);
  std::span<uint8_t> buf = scratch();
  for (;;) {
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return doDiscard();
    if (ec) return close(close_reason_);  // EOF: the peer has read and closed
  }
}

void Connection::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  // Counted before the socket closes, so a peer that sees the close can
  // already read the reason in the counters.
  core_.closedCounter(reason).inc();
  core_.open.add(-1);
  // Replies owed and not written: ready ones, and those of a write under
  // way (its completion finds the connection closed and counts nothing).
  size_t unsent = writing_now_ ? writing_replies_ : 0;
  for (const auto& s : slots_) unsent += s.ready ? 1 : 0;
  core_.replies_dropped.inc(unsent);
  slots_.clear();
  buffer(-static_cast<int64_t>(reply_bytes_));  // requests in flight give theirs back when done
  reply_bytes_ = 0;
  boost::system::error_code ignored;
  if (timer_) timer_->cancel();
  core_.sweeperFor(socket_.get_executor()).remove(this);
  leaveLimits();
  socket_.shutdown(endpoint::StreamSocket::shutdown_both, ignored);
  socket_.close(ignored);
  core_.registry.remove();
  spdlog::debug("connection {} from {} closed: {}", id(), info_.peer, reason);
}

}  // namespace thrum::server
