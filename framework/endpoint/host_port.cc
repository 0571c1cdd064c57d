#include "thrum/endpoint/host_port.h"

#include <charconv>

#include <fmt/format.h>

namespace thrum::endpoint {

std::optional<TcpAddress> parseHostPort(std::string_view text, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected HOST:PORT";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "an IPv6 address needs brackets: [ADDR]:PORT";
      return std::nullopt;
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    error = "port must be a number from 0 to 65535";
    return std::nullopt;
  }
  return TcpAddress{std::string(host), static_cast<uint16_t>(value)};
}

namespace {

// The endpoint grammar when `text` starts with one of `kinds`, HOST:PORT
// otherwise.
template <typename Endpoint, typename Parse, typename FromAddress>
std::optional<Endpoint> parseSpec(std::string_view text, std::string& error,
                                  std::initializer_list<std::string_view> kinds, Parse parse,
                                  FromAddress from_address) {
  std::string_view kind = text.substr(0, text.find(':'));
  for (std::string_view k : kinds) {
    if (kind == k) return parse(text, error);
  }
  auto address = parseHostPort(text, error);
  if (!address) {
    // Formatted: GCC 12 at -O3 misreads "'" + std::string(...) and its
    // appends here as an overlapping memcpy (-Werror=restrict).
    error = fmt::format("'{}' is neither an endpoint string nor HOST:PORT ({})", text, error);
    return std::nullopt;
  }
  Endpoint ep;
  ep.where = from_address(*address);
  ep.text = std::string(text);
  return ep;
}

}  // namespace

std::optional<ListenEndpoint> parseListenSpec(std::string_view text, std::string& error) {
  return parseSpec<ListenEndpoint>(
      text, error, {"tcp", "unix", "fd", "systemd", "tls"}, parseListenEndpoint,
      [](const TcpAddress& a) {
        return TcpListen{a.host.empty() || a.host == "*" ? "0.0.0.0" : a.host, a.port};
      });
}

std::optional<ConnectEndpoint> parseConnectSpec(std::string_view text, std::string& error) {
  return parseSpec<ConnectEndpoint>(text, error, {"tcp", "unix", "tls"}, parseConnectEndpoint,
                                    [](const TcpAddress& a) {
                                      return TcpConnect{a.host, a.port};
                                    });
}

}  // namespace thrum::endpoint
