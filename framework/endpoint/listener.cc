#include "thrum/endpoint/listener.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <netinet/in.h>

namespace thrum::endpoint {

namespace asio = boost::asio;
using Generic = asio::generic::stream_protocol;

namespace {

constexpr int kSystemdFirstFd = 3;  // SD_LISTEN_FDS_START

std::string sysError(int err) {
  return std::strerror(err);
}

bool fail(std::string& error, std::string message, boost::system::error_code* ec = nullptr,
          boost::system::error_code code = {}) {
  error = std::move(message);
  if (ec) *ec = code;
  return false;
}

// Binds and listens; on EADDRINUSE for a unix path whose owner is gone,
// removes the stale file and tries once more.
bool bindAndListen(StreamAcceptor& acceptor, const Generic::endpoint& ep, int backlog,
                   const std::string& stale_path, std::string& step,
                   boost::system::error_code& ec) {
  step = "bind";
  acceptor.bind(ep, ec);
  if (ec == asio::error::address_in_use && !stale_path.empty()) {
    struct stat st {};
    if (lstat(stale_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      asio::io_context probe_ctx;
      asio::local::stream_protocol::socket probe(probe_ctx);
      boost::system::error_code probe_ec;
      probe.connect(asio::local::stream_protocol::endpoint(stale_path), probe_ec);
      if (probe_ec == asio::error::connection_refused) {
        spdlog::info("unix:{}: replacing a socket file no process listens on", stale_path);
        ::unlink(stale_path.c_str());
        ec.clear();
        acceptor.bind(ep, ec);
      }
    }
  }
  if (ec) return false;
  step = "listen";
  acceptor.listen(backlog, ec);
  return !ec;
}

// Adopts an inherited listening descriptor after checking that it is one.
bool adopt(StreamAcceptor& acceptor, int fd, const std::string& what, std::string& error) {
  int type = 0, listening = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return fail(error, what + ": descriptor " + std::to_string(fd) + " is not a socket (" +
                           sysError(errno) + ")");
  }
  len = sizeof(listening);
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  if (type != SOCK_STREAM || listening == 0) {
    return fail(error,
                what + ": descriptor " + std::to_string(fd) + " is not a listening stream socket");
  }
  sockaddr_storage addr{};
  len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  // Ours now: keep it out of any process this one starts.
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  boost::system::error_code ec;
  acceptor.assign(Generic(addr.ss_family, 0), fd, ec);
  if (ec) return fail(error, what + ": " + ec.message());
  return true;
}

// The descriptor systemd passed for `sd`, per sd_listen_fds(3).
std::optional<int> systemdFd(const SystemdListen& sd, std::string& error) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr) {
    fail(error, "systemd: LISTEN_PID/LISTEN_FDS not set (not started by socket activation)");
    return std::nullopt;
  }
  if (std::string_view(pid) != std::to_string(getpid())) {
    fail(error, std::string("systemd: LISTEN_PID=") + pid + " is not this process (" +
                    std::to_string(getpid()) + ")");
    return std::nullopt;
  }
  int count = std::atoi(fds);
  int index = -1;
  if (sd.index) {
    index = *sd.index;
  } else {
    const char* names = std::getenv("LISTEN_FDNAMES");
    std::string_view rest = names ? names : "";
    for (int i = 0; !rest.empty() || i == 0; ++i) {
      size_t colon = rest.find(':');
      if (rest.substr(0, colon) == sd.name) {
        index = i;
        break;
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    if (index < 0) {
      fail(error, "systemd: no descriptor named '" + sd.name +
                      "' in LISTEN_FDNAMES=" + (names ? names : ""));
      return std::nullopt;
    }
  }
  if (index >= count) {
    fail(error, "systemd: index " + std::to_string(index) + " but LISTEN_FDS=" + fds);
    return std::nullopt;
  }
  return kSystemdFirstFd + index;
}

}  // namespace

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
    error =
        "'" + std::string(text) + "' is neither an endpoint string nor HOST:PORT (" + error + ")";
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

Listener::Listener(asio::io_context& ctx, StreamAcceptor acceptor, ListenEndpoint endpoint,
                   std::string unlink_on_close)
    : ctx_(ctx),
      acceptor_(std::move(acceptor)),
      backoff_(ctx),
      endpoint_(std::move(endpoint)),
      unlink_on_close_(std::move(unlink_on_close)) {
  boost::system::error_code ec;
  auto local = acceptor_.local_endpoint(ec);
  address_ = ec ? "?" : describeEndpoint(local);
  if (!ec && (local.data()->sa_family == AF_INET || local.data()->sa_family == AF_INET6)) {
    port_ = ntohs(reinterpret_cast<const sockaddr_in*>(local.data())->sin_port);
  }
}

Listener::~Listener() {
  if (!unlink_on_close_.empty()) ::unlink(unlink_on_close_.c_str());
}

std::shared_ptr<Listener> Listener::open(asio::io_context& ctx, const ListenEndpoint& endpoint,
                                         std::string& error, boost::system::error_code* ec_out) {
  StreamAcceptor acceptor(ctx);
  boost::system::error_code ec;
  if (ec_out) ec_out->clear();
  error.clear();
  std::string step, where, unlink_path;
  const std::string& name = endpoint.text;
  bool ok = std::visit(
      [&](const auto& w) -> bool {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, TcpListen>) {
          asio::ip::address ip = asio::ip::make_address(w.interface, ec);
          if (ec) {
            return fail(error, name + ": interface '" + w.interface + "' is not an IP address",
                        ec_out, ec);
          }
          asio::ip::tcp::endpoint tcp(ip, w.port);
          where = describeEndpoint(Generic::endpoint(tcp));
          Generic::endpoint ep(tcp);
          step = "socket";
          acceptor.open(ep.protocol(), ec);
          if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
          if (!ec && ip.is_v6() && ip.to_v6().is_unspecified()) {
            acceptor.set_option(asio::ip::v6_only(false), ec);  // "::" takes IPv4 too
          }
          return !ec && bindAndListen(acceptor, ep, endpoint.backlog, "", step, ec);
        } else if constexpr (std::is_same_v<T, UnixListen>) {
          std::string path = w.abstract ? std::string(1, '\0') + w.path : w.path;
          where = w.abstract ? "unix:@" + w.path : "unix:" + w.path;
          asio::local::stream_protocol::endpoint local(path);
          Generic::endpoint ep(local);
          step = "socket";
          acceptor.open(ep.protocol(), ec);
          if (!ec &&
              bindAndListen(acceptor, ep, endpoint.backlog, w.abstract ? "" : w.path, step, ec)) {
            if (!w.abstract) unlink_path = w.path;
            if (w.mode && ::chmod(w.path.c_str(), *w.mode) != 0) {
              ec = boost::system::error_code(errno, boost::system::system_category());
              step = "chmod";
              return false;
            }
            return true;
          }
          if (ec == asio::error::address_in_use && !w.abstract) {
            return fail(error, name + ": " + w.path + " is in use by a live process", ec_out, ec);
          }
          return false;
        } else if constexpr (std::is_same_v<T, FdListen>) {
          return adopt(acceptor, w.fd, name, error);
        } else {
          auto fd = systemdFd(w, error);
          return fd && adopt(acceptor, *fd, name, error);
        }
      },
      endpoint.where);
  if (!ok) {
    if (error.empty()) {
      error = name + ": " + step + (where.empty() ? "" : " " + where) + ": " + ec.message();
    }
    if (ec_out && !*ec_out)
      *ec_out = ec ? ec : make_error_code(boost::system::errc::invalid_argument);
    return nullptr;
  }
  return std::make_shared<Listener>(ctx, std::move(acceptor), endpoint, std::move(unlink_path));
}

void Listener::start(PickContext pick, OnAccept on_accept, OnPause on_pause) {
  pick_ = std::move(pick);
  on_accept_ = std::move(on_accept);
  on_pause_ = std::move(on_pause);
  asio::post(ctx_, [self = shared_from_this()] { self->doAccept(); });
}

void Listener::close() {
  asio::post(ctx_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->backoff_.cancel();
    self->acceptor_.close(ignored);
    if (!self->unlink_on_close_.empty()) {
      ::unlink(self->unlink_on_close_.c_str());
      self->unlink_on_close_.clear();
    }
  });
}

void Listener::doAccept() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(pick_(), [self = shared_from_this()](const boost::system::error_code& ec,
                                                              StreamSocket socket) {
    self->onAccept(ec, std::move(socket));
  });
}

void Listener::onAccept(const boost::system::error_code& ec, StreamSocket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    on_accept_(std::move(socket));
    doAccept();
    return;
  }
  if (ec == asio::error::no_descriptors ||
      ec == boost::system::errc::too_many_files_open_in_system ||
      ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
    // Out of a resource the next accept would need too. Pause instead of
    // spinning; established connections keep being served meanwhile.
    spdlog::warn("accept on {}: {}; pausing 100 ms", address_, ec.message());
    if (on_pause_) on_pause_(ec);
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& wait_ec) {
      if (!wait_ec) self->doAccept();
    });
    return;
  }
  // ECONNABORTED and friends concern one peer that already left.
  spdlog::debug("accept on {}: {}", address_, ec.message());
  doAccept();
}

}  // namespace thrum::endpoint
