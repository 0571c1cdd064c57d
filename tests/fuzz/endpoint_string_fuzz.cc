// The endpoint-string parsers on arbitrary text. Invariants: no crash; a
// parse either yields an endpoint or an error message, never both or
// neither; what it yields is in range.
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_target.h"
#include "thrum/endpoint/endpoint_string.h"

using namespace thrum::endpoint;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto listen = parseListenEndpoint(text, error);
  FUZZ_CHECK(listen.has_value() == error.empty());
  if (listen) {
    FUZZ_CHECK(listen->backlog >= 1 && listen->backlog <= 65535);
    if (auto* fd = std::get_if<FdListen>(&listen->where)) FUZZ_CHECK(fd->fd >= 0);
    if (auto* u = std::get_if<UnixListen>(&listen->where)) FUZZ_CHECK(!u->path.empty());
    if (listen->tls) FUZZ_CHECK(!listen->tls->cert.empty() && !listen->tls->key.empty());
  }
  error.clear();
  auto connect = parseConnectEndpoint(text, error);
  FUZZ_CHECK(connect.has_value() == error.empty());
  if (connect) {
    if (auto* tcp = std::get_if<TcpConnect>(&connect->where)) {
      FUZZ_CHECK(tcp->port >= 1 && !tcp->host.empty());
    }
  }
  return 0;
}
