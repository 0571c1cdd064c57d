// DataPhase: one connection's side of Thrift's SASL transport once the
// negotiation has completed. Every message travels in frames of a 4-byte
// length and a payload; with a security layer negotiated (auth-int,
// auth-conf) each payload is a packet the layer wraps and unwraps.
//
//   DataPhase data(max_frame, negotiation.takeSecurityLayer());
//   std::vector<std::span<const uint8_t>> thrift;
//   switch (data.receive(arrived, thrift, error)) { ... }  // Thrift bytes out
//   data.wrap(replies, error);                              // frames out
//
// Bytes in, bytes out, and midFrame(): the same questions the connection
// asks of TLS. No I/O; one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "thrum/transport/sasl_layer.h"
#include "thrum/transport/sasl_wire.h"

namespace thrum::transport::sasl {

class DataPhase {
 public:
  enum class Result {
    kOk,
    kTooLarge,      // a frame over max_frame bytes; lastLength() says how long
    kDecodeFailed,  // the security layer refused a packet; `error` says why
  };

  // Without a `layer`, payloads are the Thrift bytes themselves.
  DataPhase(size_t max_frame, std::unique_ptr<SecurityLayer> layer)
      : frames_(max_frame), layer_(std::move(layer)) {}

  // Appends to `thrift` the Thrift bytes in `bytes`, as spans into `bytes`
  // or, with a layer, into a buffer of this thread's (valid until the next
  // receive() on it). On an error, without a layer the bytes of the frames
  // before the bad one are there; with one, none of this call's are.
  Result receive(std::span<const uint8_t> bytes, std::vector<std::span<const uint8_t>>& thrift,
                 std::string& error);
  // Frames (or wraps) a batch of replies in place: the batch becomes the
  // bytes to send. False, with `error`, if the security layer failed.
  bool wrap(std::vector<std::string>& batch, std::string& error);

  // Part of a frame has arrived, not all.
  bool midFrame() const { return frames_.midFrame(); }
  uint32_t lastLength() const { return frames_.lastLength(); }

 private:
  FrameReader frames_;
  std::unique_ptr<SecurityLayer> layer_;
};

}  // namespace thrum::transport::sasl
