// One connection's I/O loop: reading through the layers, submitting calls,
// writing replies in order, and winding down. Longer than most files here
// because its handlers are one state machine over one State; what could
// stand alone has left it (SaslHandshake, ReplySlots, Admission,
// ConnectionCall, CloseReason, transport::sasl::DataPhase).
#include "thrum/server/connection.h"

#include <span>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "thrum/io/thread_check.h"
#include "thrum/server/connection_call.h"
#include "thrum/server/connection_list.h"
#include "thrum/server/server_core.h"
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

}  // namespace

Connection::Connection(endpoint::StreamSocket socket, ServerCore& core, IoThread& thread,
                       transport::SslContext tls,
                       std::shared_ptr<const endpoint::SaslServerOptions> sasl)
    : socket_(std::move(socket)),
      core_(core),
      thread_(thread),
      admission_(core.limits, info_),
      reader_(core.options.max_message_bytes) {
  info_.id = core_.next_connection_id.fetch_add(1, std::memory_order_relaxed);
  info_.peer = endpoint::describePeer(socket_);
  if (tls) tls_ = std::make_unique<transport::TlsSession>(tls.get());
  if (sasl) {
    SaslHandshake::Host& host = *this;
    sasl_ = std::make_unique<SaslHandshake>(std::move(sasl), core_, socket_.get_executor(), info_,
                                            admission_, host);
  }
}

Connection::~Connection() {
  // If it was never closed (its context went first).
  thread_.connections.remove(this);
}

ConnectionSecurity& Connection::securityFacts() {
  if (!info_.layers) info_.layers = std::make_unique<ConnectionSecurity>();
  return *info_.layers;
}

void Connection::refuse(std::string_view log) {
  spdlog::debug("connection {} from {}: refused: {}", id(), info_.peer, log);
  lingerClose(admission_.reason());
}

void Connection::start() {
  THRUM_ASSERT_ON(socket_.get_executor());
  core_.accepted.inc();
  core_.open.add(1);
  boost::system::error_code ec;
  if (endpoint::isTcp(socket_)) socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (!core_.registry.add()) {
    close(CloseReason::kShutdown);
    return;
  }
  spdlog::debug("connection {} from {} open", id(), info_.peer);
  born_ms_ = last_active_ms_ = ConnectionList::nowMs();
  thread_.connections.add(this);
  // TLS and SASL run under one deadline; a peer that stalls or trickles
  // costs only its own connection. A refused connection gets as long to
  // say something it can be refused in (a call, a SASL message).
  std::chrono::milliseconds deadline = core_.options.handshake_timeout;
  if (!admission_.admit()) {
    armTimer(deadline, [reason = admission_.reason()](Connection& c) { c.close(reason); });
  } else if (handshaking()) {
    armTimer(deadline, [deadline](Connection& c) { c.onHandshakeTimeout(deadline); });
  }
  doWaitReadable();
}

bool Connection::handshaking() const {
  return (tls_ && !tls_->established()) || (sasl_ && !sasl_->done());
}

bool Connection::partialRequest() const {
  return !reader_.idle() || (sasl_data_ && sasl_data_->midFrame());
}

void Connection::sweep(int64_t now) {
  THRUM_ASSERT_ON(socket_.get_executor());
  if (state_ == State::kLingering || state_ == State::kClosed) return;
  const ServerOptions& o = core_.options;
  auto past = [now](int64_t since, std::chrono::milliseconds limit) {
    return limit.count() > 0 && now - since >= limit.count();
  };
  if (!slots_.empty()) answerOverdue(now);  // any slot may have a call deadline
  if (state_ == State::kClosed) return;
  if (writing_now_ && past(write_began_ms_, o.write_timeout)) {
    spdlog::info("connection {} from {}: the peer took no reply bytes for {} ms; closing", id(),
                 info_.peer, o.write_timeout.count());
    return close(CloseReason::kWriteTimeout);
  }
  if (handshaking()) return;  // under the handshake deadline
  if (past(born_ms_, o.max_age)) {
    if (past(born_ms_, o.max_age + o.age_grace)) return close(CloseReason::kMaxAgeGrace);
    if (!drained_) {
      reason_ = CloseReason::kMaxAge;
      drain();
    }
    return;
  }
  bool quiet = past(last_active_ms_, partialRequest() ? o.request_timeout : o.idle_timeout);
  if (!quiet) return;
  if (partialRequest()) {
    spdlog::info("connection {} from {}: a request stalled for {} ms; closing", id(), info_.peer,
                 o.request_timeout.count());
    return close(CloseReason::kRequestTimeout);
  }
  if (in_flight_ == 0 && !writing_now_ && slots_.empty()) close(CloseReason::kIdleTimeout);
}

template <class OnExpiry>
void Connection::armTimer(std::chrono::milliseconds after, OnExpiry on_expiry) {
  // A new timer: destroying the old one cancels its wait.
  timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  timer_->expires_after(after);
  timer_->async_wait([self = shared_from_this(),
                      on_expiry = std::move(on_expiry)](const boost::system::error_code& ec) {
    if (!ec && self->state_ != State::kClosed) on_expiry(*self);
  });
}

void Connection::onHandshakeTimeout(std::chrono::milliseconds after) {
  if (!handshaking()) return;
  bool in_tls = tls_ && !tls_->established();
  spdlog::info("connection {} from {}: {} not done in {} ms; closing", id(), info_.peer,
               in_tls ? "TLS handshake" : "SASL negotiation", after.count());
  close(in_tls ? CloseReason::kTlsHandshakeTimeout : CloseReason::kSaslTimeout);
}

void Connection::tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain) {
  using Result = transport::TlsSession::Result;
  tls_->receive(ciphertext);
  if (!tls_->established()) {
    Result r = tls_->handshake();
    flushTls();  // handshake messages, or the alert that explains a failure
    if (r == Result::kError) {
      spdlog::info("connection {} from {}: TLS handshake failed: {}", id(), info_.peer,
                   tls_->error());
      return closeWhenDone(CloseReason::kTlsHandshakeFailed);
    }
    if (!tls_->established()) return;  // more handshake bytes to come
    // A refused connection keeps its deadline.
    if (!handshaking() && !admission_.refused()) timer_.reset();
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
    return closeWhenDone(CloseReason::kTlsRenegotiation);
  }
  if (r == Result::kClosed) {
    // As for a FIN: what is in flight is answered.
    return closeWhenDone(CloseReason::kPeerClosed);
  }
  if (r == Result::kError) {
    spdlog::info("connection {} from {}: TLS error: {}", id(), info_.peer, tls_->error());
    closeWhenDone(CloseReason::kTlsError);
  }
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
  if (state_ == State::kClosed) return;
  if (wait_ec) {
    if (wait_ec == asio::error::operation_aborted) return maybeClose();  // drain cancelled it
    return close(CloseReason::kIoError);
  }

  last_active_ms_ = ConnectionList::nowMs();  // readable: bytes, or the end
  std::span<uint8_t> buf = scratch();
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec == asio::error::eof) {
      transport::WireErrc err = reader_.finish();
      // The peer sends no more, but may still read: what it asked for is
      // answered, then the connection closes.
      if (err == transport::WireErrc::kOk) return closeWhenDone(CloseReason::kPeerClosed);
      spdlog::info("connection {} from {}: {}", id(), info_.peer, make_error_code(err).message());
      return close(err);
    }
    if (ec == asio::error::connection_reset) return close(CloseReason::kPeerReset);
    if (ec) return close(CloseReason::kIoError);

    // Through the layers to the requests; each may end the connection.
    std::span<const uint8_t> bytes = buf.first(n);
    thread_local std::string plain;
    if (tls_) {
      plain.clear();
      tlsReceive(bytes, plain);
      if (!takesInput()) return;
      bytes = {reinterpret_cast<const uint8_t*>(plain.data()), plain.size()};
    }
    if (sasl_data_) {
      saslData(bytes);
    } else if (sasl_) {
      sasl_->receive(bytes);
    } else {
      feedRequests(bytes);
    }
    if (!takesInput()) return;
    if (n < buf.size() || !wantRead()) break;
  }
  if (wantRead()) doWaitReadable();
}

void Connection::feedRequests(std::span<const uint8_t> bytes) {
  thread_local std::vector<transport::InboundMessage> messages;
  messages.clear();
  transport::WireErrc err = reader_.feed(bytes, messages);
  for (auto& m : messages) submit(std::move(m));
  if (err == transport::WireErrc::kOk) return;
  // Requests before the bad bytes were well-formed: answer them, then close.
  spdlog::info("connection {} from {}: {}; closing", id(), info_.peer,
               make_error_code(err).message());
  closeWhenDone(err);
}

std::shared_ptr<void> Connection::keepAlive() {
  return shared_from_this();
}

void Connection::negotiationFailed(CloseReason reason) {
  lingerClose(reason);
}

void Connection::authenticated(std::unique_ptr<transport::sasl::SecurityLayer> layer,
                               std::string early) {
  THRUM_ASSERT_ON(socket_.get_executor());
  sasl_data_ = std::make_unique<transport::sasl::DataPhase>(core_.options.max_message_bytes + 1024,
                                                            std::move(layer));
  if (!handshaking()) timer_.reset();
  if (!early.empty()) saslData({reinterpret_cast<const uint8_t*>(early.data()), early.size()});
  resumeReading();
}

void Connection::resumeReading() {
  if (!reading_ && wantRead()) doWaitReadable();
}

void Connection::saslData(std::span<const uint8_t> bytes) {
  using Result = transport::sasl::DataPhase::Result;
  thread_local std::vector<std::span<const uint8_t>> thrift;
  thrift.clear();
  std::string error;
  Result r = sasl_data_->receive(bytes, thrift, error);
  if (r == Result::kDecodeFailed) {
    spdlog::info("connection {} from {}: {}; closing", id(), info_.peer, error);
    return closeWhenDone(CloseReason::kSaslDecodeFailed);
  }
  for (auto piece : thrift) {
    feedRequests(piece);
    if (!takesInput()) return;
  }
  if (r == Result::kTooLarge) {
    spdlog::info("connection {} from {}: SASL frame of {} bytes over the limit; closing", id(),
                 info_.peer, sasl_data_->lastLength());
    closeWhenDone(transport::WireErrc::kTooLarge);
  }
}

bool Connection::wantRead() const {
  return state_ == State::kOpen && !(sasl_ && sasl_->stepping()) &&
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
  uint64_t slot = oneway ? kNoSlot : slots_.open();
  auto answer = [&](const transport::MessageHeader& header, const std::string& text) {
    if (oneway) {
      core_.oneway_dropped.inc();  // a oneway call has no way to hear "no"
      return;
    }
    fillSlot(slot, transport::encodeOverload(protocol, header, text, headroom()));
  };
  if (admission_.refused()) {
    answer(message.header, admission_.refusal(core_.options.retry_after));
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
    int64_t timeout_ms = route.timeouts.call.count();
    slots_.setDeadline(slot, {.at_ms = ConnectionList::nowMs() + timeout_ms,
                              .timeout_ms = timeout_ms,
                              .seqid = message.header.seqid,
                              .method = message.header.name});
  }
  std::unique_ptr<dispatch::Call> call = std::make_unique<ConnectionCall>(
      protocol, std::move(message),
      std::shared_ptr<const ConnectionInfo>(shared_from_this(), &info_), headroom(), route.timeouts,
      *this, thread_.link, slot, core_.options.retry_after);
  if (pool.trySubmit(call, /*wake=*/false)) {
    ++in_flight_;
    buffer(static_cast<int64_t>(request_bytes));
    thread_.link.submitted(route.lane);
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
  THRUM_ASSERT_ON(socket_.get_executor());
  --in_flight_;
  buffer(-static_cast<int64_t>(request_bytes));
  if (slot != kNoSlot && slots_.takeLate(slot)) {
    core_.running_late.add(-1);
    core_.replies_late.inc();
  } else if (state_ == State::kClosed) {
    if (slot != kNoSlot) core_.replies_dropped.inc();
    return;
  } else if (slot != kNoSlot) {
    fillSlot(slot, std::move(reply));
  }
  if (state_ == State::kClosed) return;
  if (!reading_ && wantRead()) doWaitReadable();
  maybeClose();
}

void Connection::answerOverdue(int64_t now_ms) {
  auto answer = [&](uint64_t slot, ReplySlots::Deadline d) {
    core_.calls_timed_out.inc();
    core_.running_late.add(1);
    spdlog::info(
        "connection {} from {}: call {} (seqid {}) not answered within {} ms; answered "
        "call_timeout, its result will be dropped",
        id(), info_.peer, transport::printable(d.method), d.seqid, d.timeout_ms);
    transport::MessageHeader header{.name = std::move(d.method), .seqid = d.seqid};
    fillSlot(slot,
             transport::encodeOverload(reader_.format()->protocol, header,
                                       transport::callTimeoutMessage(
                                           header.name, std::chrono::milliseconds(d.timeout_ms)),
                                       headroom()));
  };
  slots_.forEachOverdue(now_ms, answer, [this] { return state_ == State::kClosed; });
}

void Connection::fillSlot(uint64_t slot, std::string reply) {
  reply_bytes_ += reply.size();
  buffer(static_cast<int64_t>(reply.size()));
  if (reader_.format()->framing == Framing::kFramed) {
    transport::storeBe32(static_cast<uint32_t>(reply.size() - 4), reply.data());
  }
  slots_.fill(slot, std::move(reply));
  doWrite();
}

void Connection::doWrite() {
  THRUM_ASSERT_ON(socket_.get_executor());
  if (writing_now_ || state_ == State::kClosed) return;
  if (!slots_.readyAtFront() && wire_out_.empty()) return;
  size_t ready = slots_.takeReady(writing_);
  writing_bytes_ = 0;
  for (const auto& reply : writing_) writing_bytes_ += reply.size();
  writing_replies_ = ready;
  std::string error;
  if (ready > 0 && sasl_data_ && !sasl_data_->wrap(writing_, error)) {
    spdlog::info("connection {} from {}: {}; closing", id(), info_.peer, error);
    core_.replies_dropped.inc(ready);
    writing_.clear();
    return close(CloseReason::kSaslEncodeFailed);
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
  write_began_ms_ = ConnectionList::nowMs();
  // A span, so the operation does not copy the vector.
  asio::async_write(socket_, std::span<const asio::const_buffer>(write_buffers_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->onWrite(ec);
                    });
}

void Connection::onWrite(const boost::system::error_code& ec) {
  writing_now_ = false;
  if (state_ == State::kClosed) return;
  if (ec) {
    core_.replies_dropped.inc(writing_replies_);
    writing_.clear();
    // A peer that has gone, after saying so, is counted as what it did.
    if (reason_) return close(*reason_);
    bool reset = ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
    return close(reset ? CloseReason::kPeerReset : CloseReason::kIoError);
  }
  core_.replies_written.inc(writing_replies_);
  last_active_ms_ = ConnectionList::nowMs();
  reply_bytes_ -= writing_bytes_;
  buffer(-static_cast<int64_t>(writing_bytes_));
  writing_bytes_ = 0;
  writing_.clear();
  if (slots_.empty() && wire_out_.empty() && in_flight_ == 0) {
    // Idle again: an idle connection keeps no per-call storage.
    std::vector<std::string>().swap(writing_);
    std::vector<asio::const_buffer>().swap(write_buffers_);
    slots_.shrink();
  }
  doWrite();
  if (!reading_ && wantRead()) doWaitReadable();
  maybeClose();
}

void Connection::drain() {
  THRUM_ASSERT_ON(socket_.get_executor());
  if (state_ == State::kClosed) return;
  drained_ = true;
  if (state_ == State::kOpen) state_ = State::kWindingDown;
  if (reading_) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);  // the wait completes with operation_aborted
  }
  maybeClose();
}

void Connection::closeWhenDone(CloseReason reason) {
  reason_ = reason;
  if (state_ == State::kOpen) state_ = State::kWindingDown;
  maybeClose();
}

void Connection::lingerClose(CloseReason reason) {
  linger_ = true;
  closeWhenDone(reason);
}

void Connection::maybeClose() {
  if (state_ != State::kWindingDown) return;
  // Calls a call timeout answered owe nothing more; their results are dropped.
  if (in_flight_ != slots_.late() || writing_now_ || !slots_.empty()) return;
  CloseReason reason = reason_.value_or(CloseReason::kShutdown);
  if (!linger_ || drained_) return close(reason);
  // Everything is written: say so with a FIN, and read until the peer
  // closes, so its kernel does not answer unread bytes with a reset that
  // could overtake the reason it has yet to read.
  state_ = State::kLingering;
  boost::system::error_code ignored;
  socket_.shutdown(endpoint::StreamSocket::shutdown_send, ignored);
  armTimer(kLingerTime, [reason](Connection& c) { c.close(reason); });
  doDiscard();
}

void Connection::doDiscard() {
  socket_.async_wait(endpoint::StreamSocket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->onDiscardable(ec);
                     });
}

void Connection::onDiscardable(const boost::system::error_code& wait_ec) {
  if (state_ == State::kClosed) return;
  CloseReason reason = reason_.value_or(CloseReason::kShutdown);
  if (wait_ec) return close(reason);
  std::span<uint8_t> buf = scratch();
  for (;;) {
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return doDiscard();
    if (ec) return close(reason);  // EOF: the peer has read and closed
  }
}

void Connection::close(CloseReason reason) {
  THRUM_ASSERT_ON(socket_.get_executor());
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  // Counted before the socket closes, so a peer that sees the close can
  // already read the reason in the counters.
  core_.closedCounter(reason).inc();
  core_.open.add(-1);
  // Replies owed and not written: ready ones, and those of a write under
  // way (its completion finds the connection closed and counts nothing).
  size_t unsent = writing_now_ ? writing_replies_ : 0;
  unsent += slots_.filled();
  core_.replies_dropped.inc(unsent);
  slots_.dropAll();
  buffer(-static_cast<int64_t>(reply_bytes_));  // requests in flight give theirs back when done
  reply_bytes_ = 0;
  boost::system::error_code ignored;
  if (timer_) timer_->cancel();
  thread_.connections.remove(this);
  admission_.release();
  socket_.shutdown(endpoint::StreamSocket::shutdown_both, ignored);
  socket_.close(ignored);
  core_.registry.remove();
  spdlog::debug("connection {} from {} closed: {}", id(), info_.peer, reason.name());
}

}  // namespace thrum::server
