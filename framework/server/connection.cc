#include "framework/server/connection.h"

#include <sys/socket.h>

#include <array>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "framework/dispatch/call.h"
#include "framework/server/server_core.h"
#include "framework/server/worker_link.h"
#include "framework/transport/application_error.h"

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
// the connection's I/O thread.
class ConnectionCall final : public dispatch::Call {
 public:
  ConnectionCall(transport::Protocol protocol, transport::InboundMessage message,
                 std::shared_ptr<const ConnectionInfo> info, size_t headroom,
                 std::shared_ptr<Connection> connection, WorkerLink& link, uint64_t slot)
      : Call(protocol, std::move(message.header), std::move(message.storage), message.offset,
             std::move(info), headroom),
        connection_(std::move(connection)),
        link_(link),
        slot_(slot) {}

  void complete(std::string reply) override { post(std::move(reply), false); }
  void abandon() override {
    // The pool stopped before the call ran. The request was read whole, so
    // the client is owed an answer rather than silence.
    std::string reply;
    if (!oneway()) {
      reply = transport::encodeApplicationException(
          protocol(), header().name, header().seqid,
          apache::thrift::TApplicationException::INTERNAL_ERROR,
          "thrum: server shutting down; call not run", replyHeadroom());
    }
    post(std::move(reply), true);
  }

 private:
  void post(std::string reply, bool abandoned) {
    link_.push(std::move(connection_), slot_, std::move(reply), abandoned);
  }

  std::shared_ptr<Connection> connection_;
  WorkerLink& link_;
  uint64_t slot_;
};

}  // namespace

Connection::Connection(endpoint::StreamSocket socket, ServerCore& core, WorkerLink& link,
                       transport::SslContext tls)
    : socket_(std::move(socket)),
      core_(core),
      link_(link),
      reader_(core.options.max_message_bytes) {
  auto info = std::make_shared<ConnectionInfo>();
  info->id = core_.next_connection_id.fetch_add(1, std::memory_order_relaxed);
  info->peer = peerOf(socket_);
  info_ = std::move(info);
  if (tls) tls_ = std::make_unique<transport::TlsSession>(tls.get());
}

Connection::~Connection() = default;

void Connection::start() {
  core_.accepted.inc();
  core_.open.add(1);
  boost::system::error_code ec;
  if (isInet(socket_)) socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (!core_.registry.add(id(), weak_from_this())) {
    close("shutdown");
    return;
  }
  spdlog::debug("connection {} from {} open", id(), info_->peer);
  if (tls_) {
    // The whole handshake runs under one deadline; a peer that stalls or
    // trickles costs only its own connection.
    handshake_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    handshake_timer_->expires_after(core_.options.tls_handshake_timeout);
    handshake_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_ || self->tls_->established()) return;
      spdlog::info("connection {} from {}: TLS handshake not done in {} ms; closing", self->id(),
                   self->info_->peer, self->core_.options.tls_handshake_timeout.count());
      self->close("tls_handshake_timeout");
    });
  }
  doWaitReadable();
}

bool Connection::tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain) {
  using Result = transport::TlsSession::Result;
  tls_->receive(ciphertext);
  if (!tls_->established()) {
    Result r = tls_->handshake();
    flushTls();  // handshake messages, or the alert that explains a failure
    if (r == Result::kError) {
      spdlog::info("connection {} from {}: TLS handshake failed: {}", id(), info_->peer,
                   tls_->error());
      closeWhenDone("tls_handshake_failed");
      return false;
    }
    if (!tls_->established()) return true;  // more handshake bytes to come
    handshake_timer_.reset();
    core_.tls_handshakes.inc();
    if (tls_->resumed()) core_.tls_resumed.inc();
    auto info = std::make_shared<ConnectionInfo>(*info_);
    info->tls_version = tls_->version();
    info->tls_peer_subject = tls_->peerSubject();
    info->tls_peer_alt_names = tls_->peerAltNames();
    info_ = std::move(info);
  }
  Result r = tls_->read(plain);
  flushTls();
  if (r == Result::kClosed) {
    close("peer_closed");
    return false;
  }
  if (r == Result::kError) {
    spdlog::info("connection {} from {}: TLS error: {}", id(), info_->peer, tls_->error());
    closeWhenDone("tls_error");
    return false;
  }
  return true;
}

void Connection::flushTls() {
  tls_->takeOutput(tls_out_);
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

  std::span<uint8_t> buf = scratch();
  thread_local std::vector<transport::InboundMessage> messages;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec == asio::error::eof) {
      transport::WireErrc err = reader_.finish();
      if (err == transport::WireErrc::kOk) return close("peer_closed");
      spdlog::info("connection {} from {}: {}", id(), info_->peer, make_error_code(err).message());
      return close(shortName(err));
    }
    if (ec) return close("io_error");

    std::span<const uint8_t> bytes = buf.first(n);
    thread_local std::string plain;
    if (tls_) {
      plain.clear();
      if (!tlsReceive(bytes, plain)) return;
      bytes = {reinterpret_cast<const uint8_t*>(plain.data()), plain.size()};
    }
    messages.clear();
    transport::WireErrc err = reader_.feed(bytes, messages);
    for (auto& m : messages) submit(std::move(m));
    if (err != transport::WireErrc::kOk) {
      // Requests before the bad bytes were well-formed: answer them, then close.
      spdlog::info("connection {} from {}: {}; closing", id(), info_->peer,
                   make_error_code(err).message());
      return closeWhenDone(shortName(err));
    }
    if (n < buf.size() || !wantRead()) break;
  }
  if (wantRead()) doWaitReadable();
}

bool Connection::wantRead() const {
  return !closed_ && !draining_ && close_reason_.empty() &&
         in_flight_ < core_.options.max_in_flight_per_connection;
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
  std::unique_ptr<dispatch::Call> call = std::make_unique<ConnectionCall>(
      protocol, std::move(message), info_, headroom(), shared_from_this(), link_, slot);
  if (core_.pool.trySubmit(call, /*wake=*/false)) {
    ++in_flight_;
    link_.submitted();
    return;
  }
  core_.rejected_overloaded.inc();
  if (oneway) {
    core_.oneway_dropped.inc();  // a oneway call has no way to hear "no"
    return;
  }
  fillSlot(slot, transport::encodeApplicationException(
                     call->protocol(), call->header().name, call->header().seqid,
                     apache::thrift::TApplicationException::INTERNAL_ERROR,
                     "thrum: server overloaded: worker queue full (" +
                         std::to_string(core_.pool.capacity()) + " calls waiting); retry later",
                     headroom()));
}

void Connection::onCallDone(uint64_t slot, std::string reply, bool /*abandoned*/) {
  --in_flight_;
  if (closed_) {
    if (slot != kNoSlot) core_.replies_dropped.inc();
    return;
  }
  if (slot != kNoSlot) fillSlot(slot, std::move(reply));
  if (!reading_ && wantRead()) doWaitReadable();
  maybeClose();
}

void Connection::fillSlot(uint64_t slot, std::string reply) {
  Slot& s = slots_[slot - first_slot_];
  s.ready = true;
  s.reply = std::move(reply);
  if (reader_.format()->framing == Framing::kFramed) {
    uint32_t len = static_cast<uint32_t>(s.reply.size() - 4);
    s.reply[0] = static_cast<char>(len >> 24);
    s.reply[1] = static_cast<char>(len >> 16);
    s.reply[2] = static_cast<char>(len >> 8);
    s.reply[3] = static_cast<char>(len);
  }
  doWrite();
}

void Connection::doWrite() {
  if (writing_now_ || closed_) return;
  size_t ready = 0;
  while (ready < slots_.size() && slots_[ready].ready) ++ready;
  if (ready == 0 && tls_out_.empty()) return;
  for (size_t i = 0; i < ready; ++i) writing_.push_back(std::move(slots_[i].reply));
  slots_.erase(slots_.begin(), slots_.begin() + static_cast<ptrdiff_t>(ready));
  first_slot_ += ready;
  writing_replies_ = ready;
  if (tls_) {
    // Encrypt the batch into one run of records behind any handshake bytes.
    std::string cipher = std::move(tls_out_);
    tls_out_.clear();
    for (const auto& reply : writing_) tls_->write(reply);
    tls_->takeOutput(cipher);
    writing_.clear();
    writing_.push_back(std::move(cipher));
  }
  write_buffers_.clear();
  for (const auto& r : writing_) write_buffers_.push_back(asio::buffer(r));
  writing_now_ = true;
  asio::async_write(socket_, write_buffers_,
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
    return close("io_error");
  }
  core_.replies_written.inc(writing_replies_);
  writing_.clear();
  doWrite();
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

void Connection::maybeClose() {
  if (closed_ || (!draining_ && close_reason_.empty())) return;
  if (in_flight_ == 0 && !writing_now_ && slots_.empty()) {
    close(close_reason_.empty() ? "shutdown" : close_reason_);
  }
}

void Connection::close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  // Counted before the socket closes, so a peer that sees the close can
  // already read the reason in the counters.
  core_.closedCounter(reason).inc();
  core_.open.add(-1);
  size_t unsent = 0;
  for (const auto& s : slots_) unsent += s.ready ? 1 : 0;
  core_.replies_dropped.inc(unsent);
  slots_.clear();
  boost::system::error_code ignored;
  if (handshake_timer_) handshake_timer_->cancel();
  socket_.shutdown(endpoint::StreamSocket::shutdown_both, ignored);
  socket_.close(ignored);
  core_.registry.remove(id());
  spdlog::debug("connection {} from {} closed: {}", id(), info_->peer, reason);
}

}  // namespace thrum::server
