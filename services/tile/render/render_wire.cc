#include "services/tile/render/render_wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace thrum::tile::wire {
namespace {

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t getU32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

// Takes a u32 off the front of `in`; false when fewer than 4 bytes are left.
bool takeU32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = getU32(in);
  in.remove_prefix(4);
  return true;
}

}  // namespace

std::string frame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeader + payload.size());
  putU32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::optional<uint32_t> frameLength(std::string_view header4) {
  uint32_t n = getU32(header4);
  if (n > kMaxFrame) return std::nullopt;
  return n;
}

std::string encodeRequest(const MetatileKey& key) {
  std::string out(1, 'R');
  putU32(out, static_cast<uint32_t>(key.m.z));
  putU32(out, static_cast<uint32_t>(key.m.x));
  putU32(out, static_cast<uint32_t>(key.m.y));
  out += key.style;
  return out;
}

bool decodeRequest(std::string_view in, MetatileKey& key, std::string& error) {
  uint32_t z = 0, x = 0, y = 0;
  if (in.empty() || in[0] != 'R') {
    error = "not a render request";
    return false;
  }
  in.remove_prefix(1);
  if (!takeU32(in, z) || !takeU32(in, x) || !takeU32(in, y)) {
    error = "render request cut short";
    return false;
  }
  MetatileId m{static_cast<int>(z), static_cast<int>(x), static_cast<int>(y)};
  if (z > static_cast<uint32_t>(kMaxZoom) || !checkTile({m.z, m.x, m.y}).empty() ||
      m != metatileOf({m.z, m.x, m.y})) {
    error = "render request names no metatile";
    return false;
  }
  key = {std::string(in), m};
  return true;
}

std::string encodeReply(const Reply& reply) {
  if (!reply.ok) return "E" + reply.error;
  std::string out(1, 'K');
  putU32(out, static_cast<uint32_t>(reply.pngs.size()));
  for (const auto& png : reply.pngs) {
    putU32(out, static_cast<uint32_t>(png.size()));
    out += png;
  }
  return out;
}

bool decodeReply(std::string_view in, Reply& reply, std::string& error) {
  reply = Reply();
  if (!in.empty() && in[0] == 'E') {
    reply.error = std::string(in.substr(1));
    return true;
  }
  if (in.empty() || in[0] != 'K') {
    error = "not a render reply";
    return false;
  }
  in.remove_prefix(1);
  uint32_t count = 0;
  // Every entry takes at least its 4-byte length: a count beyond that is a lie.
  if (!takeU32(in, count) || count > in.size() / 4) {
    error = "render reply with a bad tile count";
    return false;
  }
  reply.pngs.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t n = 0;
    if (!takeU32(in, n) || n > in.size()) {
      error = "render reply cut short in tile " + std::to_string(i);
      return false;
    }
    reply.pngs.emplace_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  if (!in.empty()) {
    error = "render reply has " + std::to_string(in.size()) + " bytes past its tiles";
    return false;
  }
  reply.ok = true;
  return true;
}

bool sendFrame(int fd, std::string_view payload, std::string& error) {
  std::string bytes = frame(payload);
  std::string_view rest = bytes;
  while (!rest.empty()) {
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Read readFrame(int fd, std::string& payload, std::string& error,
               const std::function<std::optional<int>()>& wait_ms) {
  char header[kFrameHeader];
  size_t got = 0;
  std::optional<uint32_t> length;
  payload.clear();
  for (;;) {
    size_t want = length ? *length : kFrameHeader;
    if (got == want) {
      if (length) return Read::kFrame;
      length = frameLength({header, kFrameHeader});
      if (!length) {
        error = "a frame longer than " + std::to_string(kMaxFrame) + " bytes";
        return Read::kBad;
      }
      payload.resize(*length);
      got = 0;
      continue;
    }
    std::optional<int> wait = wait_ms();
    if (!wait) return Read::kTimedOut;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, *wait);
    if (ready < 0 && errno != EINTR) {
      error = std::string("poll: ") + std::strerror(errno);
      return Read::kClosed;
    }
    if (ready <= 0) continue;
    char* into = length ? payload.data() : header;
    ssize_t n = ::read(fd, into + got, want - got);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      error = n == 0 ? (got == 0 && !length ? "closed" : "closed inside a frame")
                     : std::string("read: ") + std::strerror(errno);
      return Read::kClosed;
    }
    got += static_cast<size_t>(n);
  }
}

}  // namespace thrum::tile::wire
