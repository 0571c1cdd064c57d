// A stand-in for saslauthd on a unix socket, speaking the protocol Cyrus's
// pwcheck_method=saslauthd speaks (counted strings: user, password,
// service, realm; answer "OK" or "NO"). It knows fixed passwords, and holds
// the answer for the user "slow" until release(): a password check that
// blocks, as a slow PAM or LDAP back end would.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>

namespace thrum::testing {

class FakeSaslauthd {
 public:
  FakeSaslauthd(std::string path, std::map<std::string, std::string> passwords)
      : path_(std::move(path)), passwords_(std::move(passwords)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    ::unlink(path_.c_str());
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener_, 256) != 0) {
      throw std::runtime_error("fake saslauthd cannot listen on " + path_);
    }
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~FakeSaslauthd() {
    release();
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& t : answering_) t.join();
    ::unlink(path_.c_str());
  }

  const std::string& path() const { return path_; }

  // How many checks are being held for "slow" right now.
  int held() {
    std::lock_guard lock(mu_);
    return held_;
  }
  int checks() {
    std::lock_guard lock(mu_);
    return checks_;
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  static bool readAll(int fd, void* out, size_t n) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t r = ::read(fd, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  static bool counted(int fd, std::string& out) {
    uint16_t len = 0;
    if (!readAll(fd, &len, 2)) return false;
    out.assign(ntohs(len), '\0');
    return out.empty() || readAll(fd, out.data(), out.size());
  }

  void reply(int fd, bool ok) {
    std::string text = ok ? "OK" : "NO authentication failed";
    uint16_t len = htons(static_cast<uint16_t>(text.size()));
    (void)!::write(fd, &len, 2);
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
  }

  void acceptLoop() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::string user, password, service, realm;
      if (!counted(fd, user) || !counted(fd, password) || !counted(fd, service) ||
          !counted(fd, realm)) {
        ::close(fd);
        continue;
      }
      std::lock_guard lock(mu_);
      ++checks_;
      if (user != "slow") {
        auto it = passwords_.find(user);
        reply(fd, it != passwords_.end() && it->second == password);
        continue;
      }
      // Held on a thread of its own, so the other checks go on.
      ++held_;
      answering_.emplace_back([this, fd] {
        std::unique_lock wait(mu_);
        cv_.wait(wait, [this] { return released_; });
        --held_;
        reply(fd, true);
      });
    }
  }

  std::string path_;
  std::map<std::string, std::string> passwords_;
  int listener_ = -1;
  std::thread acceptor_;
  std::vector<std::thread> answering_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int held_ = 0;
  int checks_ = 0;
};

}  // namespace thrum::testing
