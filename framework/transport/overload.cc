#include "thrum/transport/overload.h"

#include <charconv>

#include "thrum/transport/application_error.h"

namespace thrum::transport {
namespace {
constexpr std::string_view kPrefix = "thrum overloaded: ";
constexpr std::string_view kRetry = "; retry after ";
constexpr std::string_view kUnit = " ms";
}  // namespace

std::string overloadMessage(std::string_view reason, std::string_view detail,
                            std::chrono::milliseconds retry_after) {
  std::string out(kPrefix);
  out.append(reason).append(": ").append(detail).append(kRetry);
  out.append(std::to_string(retry_after.count())).append(kUnit);
  return out;
}

std::string callTimeoutMessage(std::string_view method, std::chrono::milliseconds limit) {
  return "thrum call_timeout: " + std::string(method) + " was not answered within " +
         std::to_string(limit.count()) + " ms";
}

std::string encodeOverload(Protocol protocol, const MessageHeader& header, std::string_view message,
                           size_t headroom) {
  return encodeApplicationException(protocol, header.name, header.seqid,
                                    apache::thrift::TApplicationException::INTERNAL_ERROR, message,
                                    headroom);
}

std::optional<Overload> parseOverload(std::string_view message) {
  if (!message.starts_with(kPrefix) || !message.ends_with(kUnit)) return std::nullopt;
  message.remove_prefix(kPrefix.size());
  message.remove_suffix(kUnit.size());
  size_t colon = message.find(':');
  size_t retry = message.rfind(kRetry);
  if (colon == 0 || colon == std::string_view::npos || retry == std::string_view::npos ||
      retry < colon) {
    return std::nullopt;
  }
  std::string_view digits = message.substr(retry + kRetry.size());
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
  if (ec != std::errc() || end != digits.data() + digits.size() || ms < 0) return std::nullopt;
  return Overload{std::string(message.substr(0, colon)), std::chrono::milliseconds(ms)};
}

}  // namespace thrum::transport
