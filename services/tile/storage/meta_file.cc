#include "services/tile/storage/meta_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

namespace thrum::tile {
namespace {

void put32(std::string& out, int32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

int32_t get32(std::string_view in, size_t at) {
  int32_t v;
  std::memcpy(&v, in.data() + at, 4);
  return v;
}

struct Entry {
  int64_t offset, size;
};

// Checks the header and returns the index; `file_size` bounds the entries.
bool parseHeader(std::string_view header, const MetatileId& expected, int64_t file_size,
                 Entry (&index)[kMetaEntries], std::string& error) {
  if (header.size() < kMetaHeaderBytes) {
    error = "truncated header (" + std::to_string(header.size()) + " of " +
            std::to_string(kMetaHeaderBytes) + " bytes)";
    return false;
  }
  if (header.substr(0, 4) != "META") {
    error = "not a .meta file (magic is not META)";
    return false;
  }
  int32_t count = get32(header, 4);
  if (count != kMetaEntries) {
    error = "count " + std::to_string(count) + " is not 64";
    return false;
  }
  MetatileId got{get32(header, 16), get32(header, 8), get32(header, 12)};
  if (got != expected) {
    error = "holds metatile " + std::to_string(got.z) + "/" + std::to_string(got.x) + "/" +
            std::to_string(got.y) + ", not the one asked for";
    return false;
  }
  for (int i = 0; i < kMetaEntries; ++i) {
    index[i] = {get32(header, 20 + 8 * i), get32(header, 24 + 8 * i)};
    const Entry& e = index[i];
    if (e.size < 0 || e.offset < 0 || (e.size > 0 && e.offset < int64_t{kMetaHeaderBytes}) ||
        e.offset + e.size > file_size) {
      error = "entry " + std::to_string(i) + " (offset " + std::to_string(e.offset) + ", size " +
              std::to_string(e.size) + ") is outside the file of " + std::to_string(file_size) +
              " bytes";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string encodeMeta(const MetatileId& m, const std::vector<std::string>& tiles) {
  std::string out;
  size_t total = 0;
  for (const auto& t : tiles) total += t.size();
  out.reserve(kMetaHeaderBytes + total);
  out.append("META");
  put32(out, kMetaEntries);
  put32(out, m.x);
  put32(out, m.y);
  put32(out, m.z);
  // renderd's order: entries and blobs by index, a running offset, and
  // the offset of an empty entry is where the next blob would start.
  int64_t offset = kMetaHeaderBytes;
  for (int i = 0; i < kMetaEntries; ++i) {
    int64_t size = i < static_cast<int>(tiles.size()) ? static_cast<int64_t>(tiles[i].size()) : 0;
    put32(out, static_cast<int32_t>(offset));
    put32(out, static_cast<int32_t>(size));
    offset += size;
  }
  for (int i = 0; i < kMetaEntries && i < static_cast<int>(tiles.size()); ++i) out += tiles[i];
  return out;
}

bool decodeMeta(std::string_view file, const MetatileId& expected,
                std::vector<std::string_view>& tiles, std::string& error) {
  Entry index[kMetaEntries];
  if (!parseHeader(file, expected, static_cast<int64_t>(file.size()), index, error)) return false;
  tiles.assign(kMetaEntries, {});
  for (int i = 0; i < kMetaEntries; ++i) {
    tiles[i] =
        file.substr(static_cast<size_t>(index[i].offset), static_cast<size_t>(index[i].size));
  }
  return true;
}

namespace {

std::optional<std::string> readTileFrom(int fd, const TileId& t, std::string& error,
                                        FileStamp* stamp) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  if (stamp != nullptr) {
    *stamp = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
              static_cast<int64_t>(st.st_size)};
  }
  std::string header(kMetaHeaderBytes, '\0');
  ssize_t n = ::pread(fd, header.data(), header.size(), 0);
  if (n < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  header.resize(static_cast<size_t>(n));
  Entry index[kMetaEntries];
  if (!parseHeader(header, metatileOf(t), st.st_size, index, error)) return std::nullopt;
  const Entry& e = index[metaIndex(t)];
  if (e.size == 0) {
    error = "the tile's entry is empty";
    return std::nullopt;
  }
  std::string blob(static_cast<size_t>(e.size), '\0');
  if (::pread(fd, blob.data(), blob.size(), e.offset) != e.size) {
    error = "short read of the tile";
    return std::nullopt;
  }
  return blob;
}

}  // namespace

std::optional<std::string> readTile(const std::string& path, const TileId& t, std::string& error,
                                    FileStamp* stamp) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errno == ENOENT ? std::string(kNoSuchFile) : std::string(std::strerror(errno));
    return std::nullopt;
  }
  std::optional<std::string> tile = readTileFrom(fd, t, error, stamp);
  ::close(fd);
  return tile;
}

bool writeFileAtomically(const std::string& path, std::string_view bytes, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) {
    error = "cannot create " + fs::path(path).parent_path().string() + ": " + ec.message();
    return false;
  }
  static std::atomic<uint64_t> sequence{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(sequence.fetch_add(1, std::memory_order_relaxed));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    done += static_cast<size_t>(w);
  }
  bool ok = done == bytes.size() && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace thrum::tile
