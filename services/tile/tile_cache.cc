#include "services/tile/tile_cache.h"

#include <sys/stat.h>

#include <cstdio>

#include <spdlog/spdlog.h>

#include "services/tile/meta_file.h"

namespace thrum::tile {
namespace {

std::optional<FileStamp> stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size)};
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
  return CachedTile{std::move(*png), versionOf(stamp), stamp.mtime_ns / 1'000'000};
}

bool TileCache::put(const MetatileKey& key, const std::vector<std::string>& pngs,
                    std::string& error) {
  if (!writeFileAtomically(path(key), encodeMeta(key.m, pngs), error)) return false;
  std::lock_guard lock(mu_);
  dirty_.erase(key);
  return true;
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

void TileCache::markDirty(const MetatileKey& key) {
  std::lock_guard lock(mu_);
  dirty_.insert(key);
}

bool TileCache::dirty(const MetatileKey& key) const {
  std::lock_guard lock(mu_);
  return dirty_.count(key) > 0;
}

}  // namespace thrum::tile
