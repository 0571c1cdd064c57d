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
// pool; a full pool is answered at once with an "overloaded"
// TApplicationException. With max_in_flight_per_connection calls
// outstanding it stops reading until one is answered.
//
// Calls go to the workers and replies come back through the I/O thread's
// WorkerLink, batched.
//
// Writing: replies leave in request order (a slot per two-way request),
// several at a time in one gathered write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framework/dispatch/call_context.h"
#include "framework/endpoint/listener.h"
#include "framework/transport/message_reader.h"
#include "framework/transport/tls_context.h"
#include "framework/transport/tls_session.h"

namespace thrum::server {

class WorkerLink;
class ServerCore;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `link` belongs to the I/O thread the socket is bound to.
  // With `tls`, the connection speaks TLS (server side) under the handshake
  // deadline before it reads any request.
  Connection(endpoint::StreamSocket socket, ServerCore& core, WorkerLink& link,
             transport::SslContext tls = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  uint64_t id() const { return info_->id; }

  void start();
  // Stop reading requests; close once every call in flight is answered.
  void drain();
  // Close now; replies still owed are dropped and counted.
  void close(std::string_view reason);
  // A worker finished (or the pool abandoned) the call in `slot`. An empty
  // reply with abandoned=false is a finished oneway call.
  void onCallDone(uint64_t slot, std::string reply, bool abandoned);

  static constexpr uint64_t kNoSlot = ~uint64_t{0};

 private:
  struct Slot {
    bool ready = false;
    std::string reply;  // headroom (frame length) + message
  };

  void doWaitReadable();
  void onReadable(const boost::system::error_code& ec);
  void submit(transport::InboundMessage message);
  void fillSlot(uint64_t slot, std::string reply);
  void doWrite();
  void onWrite(const boost::system::error_code& ec);
  bool wantRead() const;
  void closeWhenDone(std::string_view reason);
  // TLS: decrypts what arrived; false if the connection is closing.
  bool tlsReceive(std::span<const uint8_t> ciphertext, std::string& plain);
  void flushTls();
  void maybeClose();
  size_t headroom() const;

  endpoint::StreamSocket socket_;
  ServerCore& core_;
  WorkerLink& link_;
  std::shared_ptr<const ConnectionInfo> info_;
  transport::MessageReader reader_;

  std::vector<Slot> slots_;  // two-way calls not yet written, in request order
  uint64_t first_slot_ = 0;  // slot number of slots_.front()
  size_t in_flight_ = 0;     // calls queued or running, oneway included

  std::vector<std::string> writing_;  // what the write under way sends
  size_t writing_replies_ = 0;        // replies in it
  std::unique_ptr<transport::TlsSession> tls_;
  std::string tls_out_;  // ciphertext waiting for the next write
  std::unique_ptr<boost::asio::steady_timer> handshake_timer_;
  std::vector<boost::asio::const_buffer> write_buffers_;

  std::string_view close_reason_;  // set once the connection is winding down
  bool reading_ = false;
  bool writing_now_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

}  // namespace thrum::server
