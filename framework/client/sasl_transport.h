// SaslClientTransport: Thrift's SASL transport for stock generated C++
// clients, speaking the wire Java's TSaslClientTransport speaks, over any
// transport (a TSocket, a TSSLSocket). Cyrus SASL does the mechanism work.
//
//   SaslClientTransport::Options o{.mech = "SCRAM-SHA-256", .user = "alice"};
//   auto sasl = std::make_shared<SaslClientTransport>(socket, o, password);
//   bench::BenchClient client(std::make_shared<TBinaryProtocol>(sasl));
//   sasl->open();  // connects, negotiates; throws with the server's reason
//
// The protocol sits directly on it (no TFramedTransport inside, as Java,
// Python and Impala clients do). With QoP auth-int or auth-conf every frame
// is a SASL packet. Not thread-safe, like any Thrift transport.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <thrift/transport/TVirtualTransport.h>

#include "thrum/endpoint/endpoint_string.h"

namespace thrum::transport::sasl {
class SecurityLayer;
class Session;
}  // namespace thrum::transport::sasl

namespace thrum {

class SaslClientTransport
    : public apache::thrift::transport::TVirtualTransport<SaslClientTransport> {
 public:
  // What an endpoint string's sasl= keys say (endpoint_string.h); its
  // password_file is for thrum::connect() to read: the transport takes the
  // password itself (for password mechanisms; not for GSSAPI).
  using Options = endpoint::SaslClientOptions;

  SaslClientTransport(std::shared_ptr<apache::thrift::transport::TTransport> inner, Options options,
                      std::string password);
  ~SaslClientTransport() override;

  bool isOpen() const override;
  bool peek() override;
  // Opens the inner transport if it is not open, then negotiates. Throws
  // TTransportException: the server's BAD/ERROR reason, or Cyrus's.
  void open() override;
  // Negotiates over an inner transport that is already connected but cannot
  // be open()ed (a TSSLSocket made from a descriptor).
  void negotiateOnly() { negotiate(); }
  void close() override;

  uint32_t read(uint8_t* buf, uint32_t len);
  void write(const uint8_t* buf, uint32_t len);
  void flush() override;

  // After open(): "auth", "auth-int" or "auth-conf".
  const std::string& qop() const { return qop_; }

 private:
  void negotiate();
  // START and the initial response; true if the mechanism is done already.
  bool start();
  // Challenges and responses until the server's COMPLETE.
  void exchange(bool client_done);
  void sendMessage(uint8_t status, const char* data, unsigned len);
  uint8_t receiveMessage(std::string& payload);
  void readFrame();

  std::shared_ptr<apache::thrift::transport::TTransport> inner_;
  Options options_;
  std::string password_;
  // The Cyrus session while negotiating; then the security layer holds it
  // (auth-int, auth-conf) or it is gone (auth).
  std::unique_ptr<transport::sasl::Session> session_;
  std::unique_ptr<transport::sasl::SecurityLayer> layer_;
  bool negotiated_ = false;
  std::string qop_;
  std::string read_buffer_;
  size_t read_at_ = 0;
  std::string write_buffer_;
};

}  // namespace thrum
