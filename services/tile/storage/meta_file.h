// renderd's .meta files: the tiles of one metatile in one file, which
// mod_tile and renderd's tools read.
//
//   "META" | count=64 | x | y | z | 64 x {offset, size} | tile blobs
//
// All integers are 32-bit in the host's byte order; offsets count from the
// start of the file; tile (x, y) is entry (x & 7) * 8 + (y & 7); at z < 3
// the entries outside the world have size 0. Files are written to a
// temporary name and renamed, so a reader sees a whole file or none.
//
// Reading checks everything before trusting it: a truncated, corrupt or
// foreign file is an error with the reason, never a crash or a wrong tile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/tile/core/tile_math.h"

namespace thrum::tile {

constexpr int kMetaEntries = kMetatileSize * kMetatileSize;
constexpr size_t kMetaHeaderBytes = 4 + 4 * 4 + kMetaEntries * 8;  // 532

// The file for `m`, from its tiles by entry index (metaIndex()); entries
// outside the world (z < 3) are empty.
std::string encodeMeta(const MetatileId& m, const std::vector<std::string>& tiles);

// Every tile of a whole file, by entry index, after checking the header
// names `expected` and every entry lies inside the file.
bool decodeMeta(std::string_view file, const MetatileId& expected,
                std::vector<std::string_view>& tiles, std::string& error);

// When a file was written and how big it is.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = 0;
};
inline constexpr std::string_view kNoSuchFile = "no such file";

// One tile from the file at `path`: reads the header and that tile only,
// and, with `stamp`, the stamp of the very file it read. nullopt with
// `error` when there is no file (kNoSuchFile) or it is bad.
std::optional<std::string> readTile(const std::string& path, const TileId& t, std::string& error,
                                    FileStamp* stamp = nullptr);

// Writes `bytes` to `path` atomically (a temporary name in the same
// directory, fsync, rename), creating the directories on the way.
bool writeFileAtomically(const std::string& path, std::string_view bytes, std::string& error);

}  // namespace thrum::tile
