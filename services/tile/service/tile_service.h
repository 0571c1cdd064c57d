// TileServiceHandler: thrift/tile.thrift's TileService over the cache and
// the render queue. Handlers run on thrum's worker threads and may block
// while a render they need is under way; at most `max_render_waiters` of
// them do at once (more get Overloaded at once), so workers always remain
// for cache hits, which never wait behind renders.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "TileService.h"
#include "services/tile/render/render_queue.h"
#include "services/tile/storage/tile_cache.h"

namespace thrum::tile {

struct StyleInfo {
  std::string name;
  int min_zoom = 0;
  int max_zoom = 18;
};

struct TileServiceOptions {
  std::vector<StyleInfo> styles;
  int max_render_waiters = 48;
  std::chrono::milliseconds default_deadline{30000};
  // markRangeDirty refuses ranges with more metatiles than this.
  int64_t max_range_metatiles = 1 << 20;
};

// The render queue's Store for a server: a successful render is written to
// `cache`; a render the cache cannot store (a full or read-only disk) fails
// with that reason, so its waiters hear why instead of getting tiles that
// will not be there when asked again. Failures are logged with the metatile.
void storeRendered(TileCache& cache, const MetatileKey& key, RenderOutcome& outcome);

class TileServiceHandler : public api::TileServiceIf {
 public:
  TileServiceHandler(TileServiceOptions options, TileCache& cache, RenderQueue& queue);

  void getTile(api::Tile& out, const api::TileRequest& request) override;
  void getTiles(std::vector<api::TileResult>& out,
                const std::vector<api::TileRequest>& requests) override;
  int32_t enqueue(const std::vector<api::TileRequest>& requests) override;
  void status(api::MetatileStatus& out, const std::string& style, int32_t z, int32_t x,
              int32_t y) override;
  int32_t markDirty(const std::vector<api::TileRequest>& tiles) override;
  int32_t markRangeDirty(const std::string& style, int32_t min_zoom, int32_t max_zoom,
                         const api::BoundingBox& box) override;
  void listMaps(std::vector<api::MapInfo>& out) override;
  void stats(api::Stats& out) override;

 private:
  struct Wanted {
    MetatileKey key;
    TileId tile;
    Priority priority;
    std::chrono::milliseconds deadline;
  };
  Wanted check(const std::string& style, int z, int x, int y) const;
  Wanted check(const api::TileRequest& r) const;
  [[noreturn]] void overloaded(Priority p, const std::string& why) const;
  // The tile from the cache, counted as a hit; false when it is not there.
  bool fromCache(const Wanted& w, api::Tile& out);
  // A render this call will wait for (joining one under way): its place
  // among the render waiters and its promise. Throws Overloaded.
  struct Pending;
  std::unique_ptr<Pending> submitRender(const Wanted& w);
  // Waits up to the request's deadline; throws RenderFailed.
  api::Tile awaitRender(const Wanted& w, Pending& pending);
  // Marks the metatile's file dirty and queues its render (a full dirty
  // queue leaves the mark for the next hit); false when neither happened.
  bool markDirty(const MetatileKey& key);

  TileServiceOptions options_;
  std::map<std::string, StyleInfo> styles_;
  TileCache& cache_;
  RenderQueue& queue_;
  std::atomic<int> render_waiters_{0};
  std::atomic<int64_t> requests_{0}, hits_{0};
};

}  // namespace thrum::tile
