// CallTransport: the in-memory transport a worker runs a processor over.
// Reads come straight from the request bytes (no copy); writes build the
// reply in a string that starts with the caller's headroom, so the finished
// reply is moved, not copied, to the I/O thread. Internal to dispatch/.
#pragma once

#include <string>
#include <string_view>

#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TVirtualTransport.h>

namespace thrum::dispatch {

class CallTransport final
    : public apache::thrift::transport::TVirtualTransport<CallTransport,
                                                          apache::thrift::transport::TBufferBase> {
 public:
  // Starts a call. `request` must outlive the call.
  void begin(std::string_view request, size_t headroom);
  // The reply written since begin(): headroom, then the message.
  std::string takeReply();

  bool isOpen() const override { return true; }
  bool peek() override { return rBase_ < rBound_; }

 protected:
  // Reading past the request's end: none left (readAll turns it into
  // TTransportException END_OF_FILE).
  uint32_t readSlow(uint8_t*, uint32_t) override { return 0; }
  void writeSlow(const uint8_t* buf, uint32_t len) override;
  const uint8_t* borrowSlow(uint8_t*, uint32_t*) override { return nullptr; }

 private:
  std::string reply_;
};

}  // namespace thrum::dispatch
