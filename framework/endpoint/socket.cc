#include "thrum/endpoint/socket.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include <boost/asio/ip/tcp.hpp>

namespace thrum::endpoint {

namespace asio = boost::asio;
using Generic = asio::generic::stream_protocol;

size_t raiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<size_t>(limit.rlim_cur);
}

std::string describeEndpoint(const Generic::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
    asio::ip::tcp::endpoint tcp;
    std::memcpy(tcp.data(), sa, ep.size());
    std::string host = tcp.address().to_string();
    if (tcp.address().is_v6()) host = "[" + host + "]";
    return host + ":" + std::to_string(tcp.port());
  }
  if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    size_t len = ep.size() - offsetof(sockaddr_un, sun_path);
    if (ep.size() <= offsetof(sockaddr_un, sun_path) || len == 0) return "unix";
    if (un->sun_path[0] == '\0') return "unix:@" + std::string(un->sun_path + 1, len - 1);
    return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, len));
  }
  return "family " + std::to_string(sa->sa_family);
}

std::string describePeer(const StreamSocket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  if (ep.data()->sa_family == AF_UNIX) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(const_cast<StreamSocket&>(socket).native_handle(), SOL_SOCKET, SO_PEERCRED,
                   &cred, &len) == 0) {
      return "unix:pid=" + std::to_string(cred.pid) + ",uid=" + std::to_string(cred.uid);
    }
  }
  return describeEndpoint(ep);
}

bool isTcp(const StreamSocket& socket) {
  boost::system::error_code ec;
  int family = socket.local_endpoint(ec).data()->sa_family;
  return !ec && (family == AF_INET || family == AF_INET6);
}

}  // namespace thrum::endpoint
