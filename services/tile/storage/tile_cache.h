// TileCache: renderd's metatile directory on disk. Thread-safe; reads go
// straight to the file (one header and one tile), so a hit costs tens of
// microseconds and takes no lock at all.
//
// Dirty marks live in the files, so a restart keeps them: marking a
// metatile dirty sets its file's mtime back to 2000-01-01 00:00 UTC (as
// renderd's tools mark expired tiles, by an mtime older than the data),
// and any file stamped at or before then is dirty. A dirty file is still
// served; the next render's new file clears the mark.
//
// A file that is truncated, corrupt or names another metatile is never
// served: get() says "absent" (and counts it), so the caller renders it
// again and the new file replaces the bad one.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/tile/core/tile_math.h"
#include "services/tile/core/types.h"

namespace thrum::tile {

struct CachedTile {
  std::string png;
  std::string version;  // from the file's mtime and size: changes with every render
  int64_t written_at_ms = 0;
  bool dirty = false;  // served, but a new render is wanted
};

// The mtime of a dirty mark, and the latest one that reads as dirty.
constexpr int64_t kDirtyMarkUnixS = 946684800;  // 2000-01-01T00:00:00Z

class TileCache {
 public:
  explicit TileCache(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string path(const MetatileKey& key) const { return metaPath(dir_, key.style, key.m); }

  std::optional<CachedTile> get(const std::string& style, const TileId& t);
  // Writes the metatile's file atomically (a new file has no dirty mark);
  // false with `error` when the disk refuses.
  bool put(const MetatileKey& key, const std::vector<std::string>& pngs, std::string& error);
  // When the metatile's file was written (unix ms), if it exists.
  std::optional<int64_t> writtenAt(const MetatileKey& key) const;
  // The version a file written now would report, for a tile just rendered.
  std::optional<std::string> version(const MetatileKey& key) const;

  // Marks the metatile's file dirty; false when there is no file (nothing
  // to keep serving: the caller queues a render).
  bool markDirty(const MetatileKey& key);
  bool dirty(const MetatileKey& key) const;

  int64_t corrupt() const { return corrupt_.load(); }

 private:
  std::string dir_;
  std::atomic<int64_t> corrupt_{0};
};

}  // namespace thrum::tile
