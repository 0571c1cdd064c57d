// The messages between thrum-tile-server and its render processes
// (thrum-tile-render), over one stream socket pair per process:
//
//   frame    = u32 length (little endian) | payload
//   request  = 'R' | i32 z | i32 x | i32 y | style bytes
//   reply    = 'K' | u32 count | count x (u32 length | PNG bytes)
//            | 'E' | error text
//
// A process sends one reply when it is ready (count 0, or 'E' with why
// its styles did not load), then one per request, in order. Pure
// functions: decoding checks every length before using it, so a process
// that dies mid-write is an error with a reason, never a crash. Below
// them, the two blocking calls both sides move frames with.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/tile/core/types.h"

namespace thrum::tile::wire {

// Larger frames are refused: 64 PNGs of a busy metatile are a few MiB.
constexpr uint32_t kMaxFrame = 256u << 20;
constexpr size_t kFrameHeader = 4;

std::string frame(std::string_view payload);
// The payload length a frame header announces; nullopt past kMaxFrame.
std::optional<uint32_t> frameLength(std::string_view header4);

std::string encodeRequest(const MetatileKey& key);
bool decodeRequest(std::string_view payload, MetatileKey& key, std::string& error);

struct Reply {
  bool ok = false;
  std::vector<std::string> pngs;
  std::string error;
};
std::string encodeReply(const Reply& reply);
bool decodeReply(std::string_view payload, Reply& reply, std::string& error);

// Sends a whole frame of `payload` on a blocking socket (no SIGPIPE);
// false with `error` when the peer is gone.
bool sendFrame(int fd, std::string_view payload, std::string& error);

enum class Read { kFrame, kClosed, kTimedOut, kBad };
// Reads one frame's payload. Before each wait, `wait_ms` says how long
// to wait (-1: forever) or nullopt when the time is up, so the caller
// decides what counts as time. kClosed: the peer closed or reset at a
// frame boundary or inside one (`error` says which); kBad: a length past
// kMaxFrame.
Read readFrame(int fd, std::string& payload, std::string& error,
               const std::function<std::optional<int>()>& wait_ms);

}  // namespace thrum::tile::wire
