// Where to listen or connect, written as an endpoint string
// (endpoint_string.h) or as plain HOST:PORT for TCP, the form command lines
// and load generators are used to.
//
//   std::string error;
//   auto ep = parseListenSpec("127.0.0.1:9090", error);  // or "tcp:port=9090:..."
//   if (!ep) fail(error);  // "'9090' is neither an endpoint string nor HOST:PORT (...)"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "thrum/endpoint/endpoint_string.h"

namespace thrum::endpoint {

// "HOST:PORT", "[V6ADDR]:PORT" or ":PORT".
struct TcpAddress {
  std::string host;
  uint16_t port = 0;
};
std::optional<TcpAddress> parseHostPort(std::string_view text, std::string& error);

// An endpoint string, or HOST:PORT for TCP: where to listen, or where to
// connect.
std::optional<ListenEndpoint> parseListenSpec(std::string_view text, std::string& error);
std::optional<ConnectEndpoint> parseConnectSpec(std::string_view text, std::string& error);

}  // namespace thrum::endpoint
