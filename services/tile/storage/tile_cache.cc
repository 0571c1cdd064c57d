#include "services/tile/storage/tile_cache.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include <spdlog/spdlog.h>

#include "services/tile/storage/meta_file.h"

namespace thrum::tile {
namespace {

std::optional<FileStamp> stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size)};
}

bool isDirty(const FileStamp& s) {
  return s.mtime_ns <= kDirtyMarkUnixS * 1'000'000'000;
}

std::string versionOf(const FileStamp& s) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%llx-%llx", static_cast<unsigned long long>(s.mtime_ns),
                static_cast<unsigned long long>(s.size));
  return buf;
}

}  // namespace

std::optional<CachedTile> TileCache::get(const std::string& style, const TileId& t) {
  // One open, one fstat, two preads: the version comes from the file read.
  std::string file = metaPath(dir_, style, metatileOf(t));
  std::string error;
  FileStamp stamp;
  std::optional<std::string> png = readTile(file, t, error, &stamp);
  if (!png) {
    if (error == kNoSuchFile) return std::nullopt;  // not rendered yet
    ++corrupt_;
    spdlog::warn("cache: {}: {}; rendering it again", file, error);
    return std::nullopt;
  }
  return CachedTile{std::move(*png), versionOf(stamp), stamp.mtime_ns / 1'000'000, isDirty(stamp)};
}

bool TileCache::put(const MetatileKey& key, const std::vector<std::string>& pngs,
                    std::string& error) {
  return writeFileAtomically(path(key), encodeMeta(key.m, pngs), error);
}

std::optional<int64_t> TileCache::writtenAt(const MetatileKey& key) const {
  auto s = stampOf(path(key));
  if (!s) return std::nullopt;
  return s->mtime_ns / 1'000'000;
}

std::optional<std::string> TileCache::version(const MetatileKey& key) const {
  auto s = stampOf(path(key));
  if (!s) return std::nullopt;
  return versionOf(*s);
}

bool TileCache::markDirty(const MetatileKey& key) {
  // Only the mtime moves; the access time is left as it is.
  const struct timespec times[2] = {{0, UTIME_OMIT}, {kDirtyMarkUnixS, 0}};
  return ::utimensat(AT_FDCWD, path(key).c_str(), times, 0) == 0;
}

bool TileCache::dirty(const MetatileKey& key) const {
  auto s = stampOf(path(key));
  return s && isDirty(*s);
}

}  // namespace thrum::tile
