#include "thrum/endpoint/listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

bool fail(std::string& error, std::string message) {
  error = std::move(message);
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

namespace {

// How far opening got: the step under way ("bind"), where ("127.0.0.1:9090"),
// the OS's error, or a whole sentence where there is a better one; and a
// unix socket file the listener removes when it closes.
struct Opening {
  std::string step, where;
  boost::system::error_code ec;
  std::string error;
  std::string unlink_path;
};

bool openTcp(StreamAcceptor& acceptor, const TcpListen& tcp, const ListenEndpoint& endpoint,
             Opening& o) {
  asio::ip::address ip = asio::ip::make_address(tcp.interface, o.ec);
  if (o.ec) {
    return fail(o.error,
                endpoint.text + ": interface '" + tcp.interface + "' is not an IP address");
  }
  Generic::endpoint ep(asio::ip::tcp::endpoint(ip, tcp.port));
  o.where = describeEndpoint(ep);
  o.step = "socket";
  acceptor.open(ep.protocol(), o.ec);
  if (!o.ec) acceptor.set_option(asio::socket_base::reuse_address(true), o.ec);
  if (!o.ec && ip.is_v6() && ip.to_v6().is_unspecified()) {
    acceptor.set_option(asio::ip::v6_only(false), o.ec);  // "::" takes IPv4 too
  }
  return !o.ec && bindAndListen(acceptor, ep, endpoint.backlog, "", o.step, o.ec);
}

bool openUnix(StreamAcceptor& acceptor, const UnixListen& sock, const ListenEndpoint& endpoint,
              Opening& o) {
  std::string path = sock.abstract ? std::string(1, '\0') + sock.path : sock.path;
  o.where = sock.abstract ? "unix:@" + sock.path : "unix:" + sock.path;
  Generic::endpoint ep{asio::local::stream_protocol::endpoint(path)};
  o.step = "socket";
  acceptor.open(ep.protocol(), o.ec);
  if (o.ec) return false;
  if (!bindAndListen(acceptor, ep, endpoint.backlog, sock.abstract ? "" : sock.path, o.step,
                     o.ec)) {
    if (o.ec == asio::error::address_in_use && !sock.abstract) {
      fail(o.error, endpoint.text + ": " + sock.path + " is in use by a live process");
    }
    return false;
  }
  if (!sock.abstract) o.unlink_path = sock.path;
  if (sock.mode && ::chmod(sock.path.c_str(), *sock.mode) != 0) {
    o.ec = boost::system::error_code(errno, boost::system::system_category());
    o.step = "chmod";
    return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<Listener> Listener::open(asio::io_context& ctx, const ListenEndpoint& endpoint,
                                         std::string& error, boost::system::error_code* ec_out) {
  StreamAcceptor acceptor(ctx);
  Opening o;
  bool ok = std::visit(
      [&](const auto& where) -> bool {
        using T = std::decay_t<decltype(where)>;
        if constexpr (std::is_same_v<T, TcpListen>) {
          return openTcp(acceptor, where, endpoint, o);
        } else if constexpr (std::is_same_v<T, UnixListen>) {
          return openUnix(acceptor, where, endpoint, o);
        } else if constexpr (std::is_same_v<T, FdListen>) {
          return adopt(acceptor, where.fd, endpoint.text, o.error);
        } else {
          auto fd = systemdFd(where, o.error);
          return fd && adopt(acceptor, *fd, endpoint.text, o.error);
        }
      },
      endpoint.where);
  error.clear();
  if (ec_out) ec_out->clear();
  if (ok) {
    return std::make_shared<Listener>(ctx, std::move(acceptor), endpoint, std::move(o.unlink_path));
  }
  error = !o.error.empty() ? o.error
                           : endpoint.text + ": " + o.step +
                                 (o.where.empty() ? "" : " " + o.where) + ": " + o.ec.message();
  if (ec_out) *ec_out = o.ec ? o.ec : make_error_code(boost::system::errc::invalid_argument);
  return nullptr;
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
