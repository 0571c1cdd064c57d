#include "thrum/dispatch/call_transport.h"

#include <algorithm>
#include <cstring>

namespace thrum::dispatch {
namespace {
constexpr size_t kInitialReplyBytes = 256;
}  // namespace

void CallTransport::begin(std::string_view request, size_t headroom) {
  setReadBuffer(reinterpret_cast<uint8_t*>(const_cast<char*>(request.data())),
                static_cast<uint32_t>(request.size()));
  resetConsumedMessageSize();
  reply_.assign(headroom + kInitialReplyBytes, '\0');
  auto* data = reinterpret_cast<uint8_t*>(reply_.data());
  setWriteBuffer(data + headroom, static_cast<uint32_t>(kInitialReplyBytes));
}

void CallTransport::writeSlow(const uint8_t* buf, uint32_t len) {
  auto* data = reinterpret_cast<uint8_t*>(reply_.data());
  size_t used = static_cast<size_t>(wBase_ - data);
  reply_.resize(std::max(used + len, reply_.size() * 2));
  data = reinterpret_cast<uint8_t*>(reply_.data());
  std::memcpy(data + used, buf, len);
  setWriteBuffer(data + used + len, static_cast<uint32_t>(reply_.size() - used - len));
}

std::string CallTransport::takeReply() {
  size_t used = static_cast<size_t>(wBase_ - reinterpret_cast<uint8_t*>(reply_.data()));
  reply_.resize(used);
  setWriteBuffer(nullptr, 0);
  setReadBuffer(nullptr, 0);
  return std::move(reply_);
}

}  // namespace thrum::dispatch
