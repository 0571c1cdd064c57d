#include "services/tile/render/render_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "services/tile/render/render_wire.h"

extern char** environ;

namespace thrum::tile {
namespace {

using Clock = std::chrono::steady_clock;

// The descriptor the process finds its socket on.
constexpr int kChildFd = 3;

std::string describeStatus(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended with wait status " + std::to_string(status);
}

// A readFrame() budget: `limit` of time that counts, polling at most every
// 100 ms so that time spent paused is noticed and given back.
class Budget {
 public:
  Budget(std::chrono::milliseconds limit, std::function<Clock::duration()> paused)
      : limit_(limit), paused_(std::move(paused)), began_(Clock::now()), paused0_(paused_()) {}
  std::optional<int> operator()() const {
    auto counted = Clock::now() - began_ - (paused_() - paused0_);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit_ - counted);
    if (left.count() <= 0) return std::nullopt;
    return static_cast<int>(std::min<int64_t>(left.count(), 100));
  }

 private:
  std::chrono::milliseconds limit_;
  std::function<Clock::duration()> paused_;
  Clock::time_point began_;
  Clock::duration paused0_;
};

}  // namespace

std::string RenderProcess::defaultProgram() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "thrum-tile-render";
  return (self.parent_path() / "thrum-tile-render").string();
}

std::unique_ptr<RenderProcess> RenderProcess::start(Options options, std::string& error) {
  std::unique_ptr<RenderProcess> p(new RenderProcess(std::move(options)));
  if (!p->spawn(error)) return nullptr;
  return p;
}

RenderProcess::~RenderProcess() {
  if (fd_ >= 0) ::close(fd_);  // the process reads end of file and exits
  fd_ = -1;
  {
    std::lock_guard lock(mu_);
    if (pid_ > 0 && paused_) ::kill(pid_, SIGCONT);
  }
  reap(/*kill=*/false);
}

pid_t RenderProcess::pid() const {
  std::lock_guard lock(mu_);
  return pid_;
}

bool RenderProcess::spawn(std::string& error) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    error = std::string("socketpair: ") + std::strerror(errno);
    return false;
  }
  std::vector<std::string> args{options_.program, std::to_string(kChildFd),
                                std::to_string(options_.nice),
                                std::to_string(options_.encode_threads)};
  for (const auto& s : options_.styles) {
    args.insert(args.end(), {s.name, s.xml, s.data_dir});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, pair[1], kChildFd);  // dup2 clears close-on-exec
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);  // the server holds its shutdown signals
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, options_.program.c_str(), &files, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  ::close(pair[1]);
  if (rc != 0) {
    ::close(pair[0]);
    error = "cannot start " + options_.program + ": " + std::strerror(rc);
    return false;
  }
  fd_ = pair[0];
  {
    std::lock_guard lock(mu_);
    pid_ = pid;
  }
  // Ready: an empty reply, or the reason the styles did not load.
  std::string payload, why;
  Budget budget(options_.start_limit, [] { return Clock::duration::zero(); });
  wire::Read got = wire::readFrame(fd_, payload, why, budget);
  wire::Reply ready;
  if (got == wire::Read::kFrame && wire::decodeReply(payload, ready, why) && ready.ok) {
    std::lock_guard lock(mu_);
    if (paused_) ::kill(pid_, SIGSTOP);
    return true;
  }
  if (got == wire::Read::kFrame && !ready.ok && why.empty()) why = ready.error;
  if (got == wire::Read::kTimedOut) {
    why = "not ready within " + std::to_string(options_.start_limit.count()) + " ms";
  }
  std::string ended = reap(/*kill=*/true);
  error = options_.program + ": " + why + (ready.error.empty() ? " (it " + ended + ")" : "");
  return false;
}

std::string RenderProcess::reap(bool kill) {
  pid_t pid;
  {
    std::lock_guard lock(mu_);
    pid = pid_;
    pid_ = -1;  // nobody signals a pid once it may be reaped and reused
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (pid <= 0) return "was not running";
  int status = 0;
  auto waited = [&](int flags) {
    pid_t r;
    while ((r = ::waitpid(pid, &status, flags)) < 0 && errno == EINTR) {
    }
    return r;
  };
  if (!kill) {
    // A process told to go (its socket closed) gets two seconds to exit.
    for (int i = 0; i < 200; ++i) {
      pid_t r = waited(WNOHANG);
      if (r == pid) return describeStatus(status);
      if (r < 0) return std::string("waitpid: ") + std::strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::kill(pid, SIGKILL);
  if (waited(0) < 0) return std::string("waitpid: ") + std::strerror(errno);
  return describeStatus(status);
}

Clock::duration RenderProcess::pausedSoFar() const {
  std::lock_guard lock(mu_);
  return paused_total_ + (paused_ ? Clock::now() - paused_at_ : Clock::duration::zero());
}

void RenderProcess::setPaused(bool paused) {
  std::lock_guard lock(mu_);
  if (paused == paused_) return;
  paused_ = paused;
  if (paused) {
    paused_at_ = Clock::now();
  } else {
    paused_total_ += Clock::now() - paused_at_;
  }
  if (pid_ > 0) ::kill(pid_, paused ? SIGSTOP : SIGCONT);
}

bool RenderProcess::render(const RenderJob& job, std::vector<std::string>& pngs,
                           std::string& error) {
  // Whatever went wrong, this process is done: kill it (if it still
  // lives), reap it and start another.
  auto failed = [&](const std::string& why) {
    std::string ended = reap(/*kill=*/true);
    error = why + "; the render process " + ended;
    std::string respawn_error;
    ++restarts_;
    if (!spawn(respawn_error)) error += "; no new one: " + respawn_error;
    return false;
  };
  if (fd_ < 0) {
    std::string why;
    if (!spawn(why)) {
      error = "no render process: " + why;
      return false;
    }
  }
  std::string why;
  if (!wire::sendFrame(fd_, wire::encodeRequest(job.key), why)) {
    return failed("render process gone (" + why + ")");
  }
  std::string payload;
  Budget budget(options_.time_limit, [this] { return pausedSoFar(); });
  switch (wire::readFrame(fd_, payload, why, budget)) {
    case wire::Read::kFrame:
      break;
    case wire::Read::kTimedOut:
      return failed("render took longer than the limit of " +
                    std::to_string(options_.time_limit.count()) + " ms");
    case wire::Read::kClosed:
    case wire::Read::kBad:
      return failed("render process broke off (" + why + ")");
  }
  wire::Reply reply;
  if (!wire::decodeReply(payload, reply, why)) {
    return failed("render process answered nonsense (" + why + ")");
  }
  if (!reply.ok) {
    error = reply.error;  // Mapnik's reason; the process is fine
    return false;
  }
  pngs = std::move(reply.pngs);
  return true;
}

}  // namespace thrum::tile
