// Connection: one accepted client socket, from first byte to close.
//
// States: reading requests -> (draining: no new requests, answer what is in
// flight) -> closed. A connection lives on one I/O thread: every method
// below runs there, and other threads reach it only by posting. It is owned
// by its pending operations and by the calls it has in flight
// (shared_from_this), so it outlives any reply a worker still owes it.
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
// Limits: a connection over ServerOptions::max_connections* is not served:
// its first call (or SASL message) is answered with the overload answer
// naming the limit, then it closes, counted under that limit's name.
//
// Calls go to the workers and replies come back through the I/O thread's
// WorkerLink, batched.
//
// Writing: replies leave in request order (a slot per two-way request),
// several at a time in one gathered write.
//
// Layers, outermost first: TLS (TlsSession, handshake on the I/O thread),
// then SASL (Thrift's SASL transport: the negotiation's blocking steps run
// on the server's auth pool while the connection stops reading; afterwards
// data frames, wrapped by the security layer for auth-int/auth-conf). Both
// handshakes run under one deadline. Requests reach the MessageReader only
// after SASL succeeded. A failed negotiation is answered (BAD or ERROR with
// the reason), then the connection stops sending and reads until the peer
// closes (at most kLingerTime), so the peer reads the reason before it sees
// the connection go.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "thrum/dispatch/call_context.h"
#include "thrum/endpoint/endpoint_string.h"
#include "thrum/endpoint/listener.h"
#include "thrum/server/connection_limits.h"
#include "thrum/transport/message_reader.h"
#include "thrum/transport/sasl_server.h"
#include "thrum/transport/tls_context.h"
#include "thrum/transport/tls_session.h"

namespace thrum::server {

class WorkerLink;
class ServerCore;
class Sweeper;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `link` belongs to the I/O thread the socket is bound to.
  // With `tls`, the connection speaks TLS (server side) under the handshake
  // deadline before it reads any request.
  // With `sasl`, it negotiates SASL (after TLS, if any) before any request.
  Connection(endpoint::StreamSocket socket, ServerCore& core, WorkerLink& link,
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
  void close(std::string_view reason);
  // A worker finished (or the pool abandoned) the call in `slot` (kNoSlot
  // for a oneway call, whose reply is empty); its request held
  // `request_bytes` of the memory budget. A reply for a slot its call
  // timeout already answered is dropped and counted replies.late.
  void onCallDone(uint64_t slot, std::string reply, size_t request_bytes);

  // The sweeper's tick: closes (or drains, past max_age) the connection
  // if one of its timeouts has fired by `now_ms` (Sweeper::nowMs()).
  void sweep(int64_t now_ms);

  static constexpr uint64_t kNoSlot = ~uint64_t{0};
  static constexpr std::chrono::milliseconds kLingerTime{2000};

 private:
  struct Sasl;  // negotiation and data-phase state (connection.cc)

  struct Slot {
    bool ready = false;
    std::string reply;  // headroom (frame length) + message
    // With a call timeout: when (Sweeper::nowMs()) the slot is answered
    // call_timeout if its reply has not come, and what that answer needs.
    int64_t deadline_ms = 0;
    int64_t timeout_ms = 0;
    int32_t seqid = 0;
    std::string method;
  };

  void doWaitReadable();
  void onReadable(const boost::system::error_code& ec);
  void submit(transport::InboundMessage message);
  void fillSlot(uint64_t slot, std::string reply);
  // Answers every slot past its call deadline with call_timeout.
  void answerOverdue(int64_t now_ms);
  void doWrite();
  void onWrite(const boost::system::error_code& ec);
  bool wantRead() const;
  void closeWhenDone(std::string_view reason);
  // TLS: decrypts what arrived; false if the connection is closing.
  bool tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain);
  void flushTls();
  // Request bytes to the MessageReader; false if the connection is closing.
  bool feedRequests(std::span<const uint8_t> bytes);
  // SASL: during negotiation keeps the bytes and steps; afterwards hands the
  // Thrift bytes of complete frames to feedRequests. False if closing.
  bool saslReceive(std::span<const uint8_t> bytes);
  bool saslData(std::span<const uint8_t> bytes);
  // Reads the next negotiation message from what is kept, and steps with it.
  void saslNegotiate();
  // Runs one step on the auth pool; the outcome comes back to onSaslStep.
  void saslStep(transport::sasl::Message message);
  void onSaslStep(transport::sasl::ServerNegotiation::Step step);
  // Answers BAD or ERROR with `payload`, logs `log`, and closes lingering.
  void saslFail(transport::sasl::Status status, const std::string& payload,
                std::string_view close_reason, const std::string& log);
  // Frames (or wraps) a batch of replies for the SASL data phase.
  bool saslWrap(std::vector<std::string>& batch);
  // Bytes for the peer ahead of any reply (negotiation messages), through TLS.
  void sendRaw(std::string_view bytes);
  bool handshaking() const;
  // Part of a request (or of a SASL data frame) has arrived, not all.
  bool partialRequest() const;
  void armTimer(std::chrono::milliseconds after, std::string_view reason);
  // Close once written, but let the peer read first (see above).
  void lingerClose(std::string_view reason);
  void doDiscard();
  void onDiscardable(const boost::system::error_code& ec);
  void maybeClose();
  size_t headroom() const;
  // Connection limits: the overload answer for refused_, refusing with it,
  // and giving back what admission took (once).
  std::string refusal() const;
  void refuse(std::string_view log);
  void saslRefuse();  // the same, answered in the SASL negotiation
  void leaveLimits();
  // TLS and SASL record what they established here, before the first call.
  ConnectionSecurity& securityFacts();

  endpoint::StreamSocket socket_;
  ServerCore& core_;
  WorkerLink& link_;
  // Shared with its calls by aliasing this connection's ownership, so it
  // costs no allocation of its own: a call holds its connection through it
  // and hands it back to the I/O thread with the reply (ConnectionCall).
  ConnectionInfo info_;
  transport::MessageReader reader_;

  std::vector<Slot> slots_;  // two-way calls not yet written, in request order
  uint64_t first_slot_ = 0;  // slot number of slots_.front()
  size_t in_flight_ = 0;     // calls queued or running, oneway included
  // Slots of calls still running whose call timeout answered them; their
  // results are dropped when they come. Rarely more than empty.
  std::vector<uint64_t> late_slots_;

  std::vector<std::string> writing_;  // what the write under way sends
  size_t writing_replies_ = 0;        // replies in it
  size_t writing_bytes_ = 0;          // their bytes, as they were queued
  size_t reply_bytes_ = 0;            // replies ready or being written, in bytes
  // This connection's part of ServerCore::buffered_bytes: its requests in
  // flight and reply_bytes_.
  size_t buffered_ = 0;
  void buffer(int64_t bytes);
  std::unique_ptr<transport::TlsSession> tls_;
  std::unique_ptr<Sasl> sasl_;
  std::string wire_out_;  // bytes for the socket ahead of replies (TLS records, negotiation)
  std::unique_ptr<boost::asio::steady_timer> timer_;  // handshake deadline, then linger
  std::vector<boost::asio::const_buffer> write_buffers_;

  // Times for the sweeper (Sweeper::nowMs()), and the links of its list
  // (its I/O thread's: core_.sweeperFor()).
  friend class Sweeper;
  int64_t born_ms_ = 0;
  int64_t last_active_ms_ = 0;  // bytes last arrived, or a write ended
  int64_t write_began_ms_ = 0;  // the write under way began
  Connection* sweep_prev_ = nullptr;
  Connection* sweep_next_ = nullptr;

  ConnectionLimits::Refusal refused_ = ConnectionLimits::Refusal::kNone;
  bool admitted_ = false;  // counted in core_.limits (by address; by principal once authenticated)
  std::string_view close_reason_;  // set once the connection is winding down
  bool reading_ = false;
  bool writing_now_ = false;
  bool draining_ = false;
  bool linger_ = false;     // lingerClose() asked for
  bool lingering_ = false;  // sending shut down, reading until the peer closes
  bool closed_ = false;
};

}  // namespace thrum::server
