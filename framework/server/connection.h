// Connection: one accepted client socket, from first byte to close.
//
// States (State below): open, reading requests -> winding down (no new
// requests; what is in flight is answered) -> lingering (only after a
// refusal or failed negotiation, see below) -> closed, with a CloseReason.
// A connection lives on one I/O thread: every method below runs there, and
// other threads reach it only by posting. It is owned by its pending
// operations and by the calls it has in flight (shared_from_this), so it
// outlives any reply a worker still owes it.
//
// Reading: while idle the connection holds no read buffer; it waits for
// readability, then reads into the I/O thread's scratch buffer and feeds a
// MessageReader. Each complete request becomes a Call offered to the worker
// pool of its lane; a full pool is answered at once with an overload
// TApplicationException (transport/overload.h). With
// max_in_flight_per_connection calls outstanding, or
// max_reply_bytes_per_connection bytes of replies not yet taken by the
// peer, it stops reading until that is no longer so.
//
// Limits (Admission): a connection over ServerOptions::max_connections* is
// not served: its first call (or SASL message) is answered with the
// overload answer naming the limit, then it closes, counted under that
// limit's name.
//
// Calls go to the workers and replies come back through the I/O thread's
// WorkerLink, batched.
//
// Writing: replies leave in request order (ReplySlots: a slot per two-way
// request), several at a time in one gathered write.
//
// Layers, outermost first: TLS (TlsSession, handshake on the I/O thread),
// then SASL (Thrift's SASL transport: SaslHandshake negotiates, its
// blocking steps on the server's auth pool while the connection stops
// reading; afterwards transport::sasl::DataPhase unframes, and unwraps for
// auth-int/auth-conf). Both
// handshakes run under one deadline. Requests reach the MessageReader only
// after SASL succeeded. A failed negotiation is answered (BAD or ERROR with
// the reason), then the connection stops sending and reads until the peer
// closes (at most kLingerTime), so the peer reads the reason before it sees
// the connection go.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "thrum/dispatch/call_context.h"
#include "thrum/endpoint/endpoint_string.h"
#include "thrum/endpoint/socket.h"
#include "thrum/server/admission.h"
#include "thrum/server/close_reason.h"
#include "thrum/server/reply_slots.h"
#include "thrum/server/sasl_handshake.h"
#include "thrum/transport/message_reader.h"
#include "thrum/transport/sasl_data_phase.h"
#include "thrum/transport/sasl_server.h"
#include "thrum/transport/tls_context.h"
#include "thrum/transport/tls_session.h"

namespace thrum::server {

class WorkerLink;
class ServerCore;
struct IoThread;
class ConnectionList;

class Connection : public std::enable_shared_from_this<Connection>, private SaslHandshake::Host {
 public:
  // `thread` is the I/O thread the socket is bound to.
  // With `tls`, the connection speaks TLS (server side) under the handshake
  // deadline before it reads any request.
  // With `sasl`, it negotiates SASL (after TLS, if any) before any request.
  Connection(endpoint::StreamSocket socket, ServerCore& core, IoThread& thread,
             transport::SslContext tls = nullptr,
             std::shared_ptr<const endpoint::SaslServerOptions> sasl = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  uint64_t id() const { return info_.id; }

  void start();
  // Stop reading requests; close once every call in flight is answered.
  void drain();
  // Close now; replies still owed are dropped and counted.
  void close(CloseReason reason);
  // A worker finished (or the pool abandoned) the call in `slot` (kNoSlot
  // for a oneway call, whose reply is empty); its request held
  // `request_bytes` of the memory budget. A reply for a slot its call
  // timeout already answered is dropped and counted replies.late.
  void onCallDone(uint64_t slot, std::string reply, size_t request_bytes);

  // The sweep's tick: closes (or drains, past max_age) the connection
  // if one of its timeouts has fired by `now_ms` (ConnectionList::nowMs()).
  void sweep(int64_t now_ms);

  static constexpr uint64_t kNoSlot = ~uint64_t{0};
  static constexpr std::chrono::milliseconds kLingerTime{2000};

 private:
  enum class State : uint8_t {
    kOpen,         // reading requests
    kWindingDown,  // drained, or a close reason: no new requests
    kLingering,    // all written and sending shut: reading until the peer closes
    kClosed,
  };

  void doWaitReadable();
  void onReadable(const boost::system::error_code& ec);
  // Bytes that arrived, after TLS and SASL have had theirs, are handled
  // while this holds: not once closed or closing for a reason (a drained
  // connection still answers what it had read).
  bool takesInput() const override { return state_ != State::kClosed && !reason_; }
  void submit(transport::InboundMessage message);
  void fillSlot(uint64_t slot, std::string reply);
  // Answers every slot past its call deadline with call_timeout.
  void answerOverdue(int64_t now_ms);
  void doWrite();
  void onWrite(const boost::system::error_code& ec);
  bool wantRead() const;
  void closeWhenDone(CloseReason reason);
  // TLS: decrypts what arrived into `plain`.
  void tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain);
  void flushTls();
  // Request bytes to the MessageReader.
  void feedRequests(std::span<const uint8_t> bytes);
  // SASL's data phase: the Thrift bytes of complete frames to feedRequests.
  void saslData(std::span<const uint8_t> bytes);
  // What the SASL negotiation needs of the connection (SaslHandshake::Host).
  std::shared_ptr<void> keepAlive() override;
  bool closed() const override { return state_ == State::kClosed; }
  void sendNegotiation(std::string_view bytes) override { sendRaw(bytes); }
  void negotiationFailed(CloseReason reason) override;
  void authenticated(std::unique_ptr<transport::sasl::SecurityLayer> layer,
                     std::string early) override;
  void resumeReading() override;
  // Bytes for the peer ahead of any reply (negotiation messages), through TLS.
  void sendRaw(std::string_view bytes);
  bool handshaking() const;
  // Part of a request (or of a SASL data frame) has arrived, not all.
  bool partialRequest() const;
  // The one timer: TLS and SASL under one deadline, or a refused
  // connection's time to say something, or the linger time.
  template <class OnExpiry>
  void armTimer(std::chrono::milliseconds after, OnExpiry on_expiry);
  void onHandshakeTimeout(std::chrono::milliseconds after);
  // Close once written, but let the peer read first (see above).
  void lingerClose(CloseReason reason);
  void doDiscard();
  void onDiscardable(const boost::system::error_code& ec);
  void maybeClose();
  size_t headroom() const;
  // A refused connection's answer to a call.
  void refuse(std::string_view log);
  // TLS and SASL record what they established here, before the first call.
  ConnectionSecurity& securityFacts() override;

  endpoint::StreamSocket socket_;
  ServerCore& core_;
  IoThread& thread_;  // its list of connections and its link to the workers
  // Shared with its calls by aliasing this connection's ownership, so it
  // costs no allocation of its own: a call holds its connection through it
  // and hands it back to the I/O thread with the reply (ConnectionCall).
  ConnectionInfo info_;
  Admission admission_;  // after info_, which it reads when it goes
  transport::MessageReader reader_;

  ReplySlots slots_;      // two-way calls not yet written
  size_t in_flight_ = 0;  // calls queued or running, oneway included

  std::vector<std::string> writing_;  // what the write under way sends
  size_t writing_replies_ = 0;        // replies in it
  size_t writing_bytes_ = 0;          // their bytes, as they were queued
  size_t reply_bytes_ = 0;            // replies ready or being written, in bytes
  // This connection's part of ServerCore::buffered_bytes: its requests in
  // flight and reply_bytes_.
  size_t buffered_ = 0;
  void buffer(int64_t bytes);
  std::unique_ptr<transport::TlsSession> tls_;
  // Kept once done: its last step returns through it.
  std::unique_ptr<SaslHandshake> sasl_;
  std::unique_ptr<transport::sasl::DataPhase> sasl_data_;
  std::string wire_out_;  // bytes for the socket ahead of replies (TLS records, negotiation)
  std::unique_ptr<boost::asio::steady_timer> timer_;  // see armTimer
  std::vector<boost::asio::const_buffer> write_buffers_;

  // Times for the sweep (ConnectionList::nowMs()), and the links of its
  // thread's list (thread_.connections).
  friend class ConnectionList;
  int64_t born_ms_ = 0;
  int64_t last_active_ms_ = 0;  // bytes last arrived, or a write ended
  int64_t write_began_ms_ = 0;  // the write under way began
  Connection* sweep_prev_ = nullptr;
  Connection* sweep_next_ = nullptr;

  State state_ = State::kOpen;
  // Why it winds down; none while open, or when the server drained it
  // (counted as shutdown).
  std::optional<CloseReason> reason_;
  bool drained_ = false;  // drain() was called: no lingering then
  bool linger_ = false;   // lingerClose() asked for
  bool reading_ = false;  // a wait for readability is under way
  bool writing_now_ = false;
};

}  // namespace thrum::server
