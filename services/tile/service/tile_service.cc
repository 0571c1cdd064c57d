#include "services/tile/service/tile_service.h"

#include <algorithm>
#include <future>
#include <set>

#include <spdlog/spdlog.h>

namespace thrum::tile {

void storeRendered(TileCache& cache, const MetatileKey& key, RenderOutcome& outcome) {
  std::string where = key.style + "/" + std::to_string(key.m.z) + "/" + std::to_string(key.m.x) +
                      "/" + std::to_string(key.m.y);
  if (!outcome.ok) {
    spdlog::warn("render {} failed: {}", where, outcome.error);
    return;
  }
  std::string why;
  if (cache.put(key, outcome.pngs, why)) return;
  spdlog::error("render {}: the cache cannot store it: {}", where, why);
  outcome.ok = false;
  outcome.error = "rendered, but the cache cannot store it: " + why;
  outcome.pngs.clear();
}
namespace {

Priority fromApi(api::Priority::type p) {
  switch (p) {
    case api::Priority::INTERACTIVE:
      return Priority::kInteractive;
    case api::Priority::PREFETCH:
      return Priority::kPrefetch;
    case api::Priority::DIRTY:
      return Priority::kDirty;
    case api::Priority::BULK:
      return Priority::kBulk;
  }
  return Priority::kInteractive;
}

api::Priority::type toApi(Priority p) {
  return static_cast<api::Priority::type>(static_cast<int>(p));
}

[[noreturn]] void invalid(const std::string& reason) {
  api::InvalidRequest e;
  e.reason = reason;
  throw e;
}

// Holds one of the handler's render-waiting places for its lifetime.
class WaiterSlot {
 public:
  WaiterSlot(std::atomic<int>& count, int max) : count_(count) {
    taken_ = count_.fetch_add(1) < max;
    if (!taken_) count_.fetch_sub(1);
  }
  ~WaiterSlot() {
    if (taken_) count_.fetch_sub(1);
  }
  bool taken() const { return taken_; }

 private:
  std::atomic<int>& count_;
  bool taken_;
};

}  // namespace

TileServiceHandler::TileServiceHandler(TileServiceOptions options, TileCache& cache,
                                       RenderQueue& queue)
    : options_(std::move(options)), cache_(cache), queue_(queue) {
  for (const auto& s : options_.styles) styles_[s.name] = s;
}

TileServiceHandler::Wanted TileServiceHandler::check(const std::string& style, int z, int x,
                                                     int y) const {
  auto it = styles_.find(style);
  if (it == styles_.end()) invalid("unknown style '" + style + "'");
  const StyleInfo& s = it->second;
  if (z < s.min_zoom || z > s.max_zoom) {
    invalid("z " + std::to_string(z) + " is outside " + style + "'s zoom range " +
            std::to_string(s.min_zoom) + ".." + std::to_string(s.max_zoom));
  }
  TileId t{z, x, y};
  if (std::string why = checkTile(t); !why.empty()) invalid(why);
  return {{style, metatileOf(t)}, t, Priority::kInteractive, options_.default_deadline};
}

TileServiceHandler::Wanted TileServiceHandler::check(const api::TileRequest& r) const {
  Wanted w = check(r.style, r.z, r.x, r.y);
  w.priority = fromApi(r.priority);
  if (r.__isset.deadline_ms) {
    if (r.deadline_ms <= 0) invalid("deadline_ms must be positive");
    w.deadline = std::chrono::milliseconds(r.deadline_ms);
  }
  return w;
}

void TileServiceHandler::overloaded(Priority p, const std::string& why) const {
  api::Overloaded e;
  e.full_class = toApi(p);
  // A render's mean time for every job ahead, spread over the slots.
  const auto& c = queue_.counters();
  int64_t done = std::max<int64_t>(1, c.renders + c.failures);
  int64_t mean_ms = std::max<int64_t>(50, c.render_ms / done);
  e.retry_after_ms = static_cast<int32_t>(std::min<int64_t>(
      60000,
      mean_ms * static_cast<int64_t>(queue_.queued(p) + 1) / std::max(1, queue_.rendering() + 1)));
  e.reason = why;
  throw e;
}

struct TileServiceHandler::Pending {
  Pending(std::atomic<int>& waiters, int max) : slot(waiters, max) {}
  WaiterSlot slot;
  std::shared_ptr<std::promise<std::shared_ptr<const RenderOutcome>>> promise =
      std::make_shared<std::promise<std::shared_ptr<const RenderOutcome>>>();
  WaiterId waiter = 0;
};

std::unique_ptr<TileServiceHandler::Pending> TileServiceHandler::submitRender(const Wanted& w) {
  auto pending = std::make_unique<Pending>(render_waiters_, options_.max_render_waiters);
  if (!pending->slot.taken()) {
    overloaded(w.priority, "too many requests are waiting for renders (" +
                               std::to_string(options_.max_render_waiters) + ")");
  }
  auto submitted = queue_.submit(w.key, w.priority, [promise = pending->promise](auto outcome) {
    promise->set_value(outcome);
  });
  if (submitted.admit == Scheduler::Admit::kFull) {
    overloaded(w.priority, std::string("the ") + toString(w.priority) + " queue is full (" +
                               std::to_string(queue_.queued(w.priority)) + " metatiles)");
  }
  pending->waiter = submitted.waiter;
  return pending;
}

api::Tile TileServiceHandler::awaitRender(const Wanted& w, Pending& pending) {
  auto future = pending.promise->get_future();
  if (future.wait_for(w.deadline) != std::future_status::ready) {
    queue_.cancel(w.key, pending.waiter);
    api::RenderFailed e;
    e.reason = "deadline: no render within " + std::to_string(w.deadline.count()) +
               " ms (it goes on if others still want it)";
    throw e;
  }
  std::shared_ptr<const RenderOutcome> outcome = future.get();
  if (!outcome->ok) {
    api::RenderFailed e;
    e.reason = outcome->error;
    throw e;
  }
  api::Tile tile;
  tile.png = outcome->pngs.at(metaIndex(w.tile));
  tile.source = api::Source::RENDERED;
  tile.render_ms = static_cast<int32_t>(outcome->took.count());
  tile.version = cache_.version(w.key).value_or("unsaved");
  return tile;
}

bool TileServiceHandler::fromCache(const Wanted& w, api::Tile& out) {
  ++requests_;
  auto hit = cache_.get(w.key.style, w.tile);
  if (!hit) return false;
  ++hits_;
  // A dirty tile is served and its new render queued (or joined); a full
  // dirty queue loses nothing, the mark stays for the next hit.
  if (hit->dirty) queue_.submit(w.key, Priority::kDirty);
  out.png = std::move(hit->png);
  out.source = api::Source::CACHE;
  out.render_ms = 0;
  out.version = std::move(hit->version);
  return true;
}

void TileServiceHandler::getTile(api::Tile& out, const api::TileRequest& request) {
  Wanted w = check(request);
  if (fromCache(w, out)) return;
  auto pending = submitRender(w);
  out = awaitRender(w, *pending);
}

void TileServiceHandler::getTiles(std::vector<api::TileResult>& out,
                                  const std::vector<api::TileRequest>& requests) {
  std::vector<Wanted> wanted;
  for (const auto& r : requests) wanted.push_back(check(r));  // all valid, or nothing runs
  out.assign(requests.size(), {});
  // Answer the hits and queue every miss first, so the misses' metatiles
  // render side by side; then wait for each.
  std::vector<std::unique_ptr<Pending>> pending(requests.size());
  auto attempt = [&](size_t i, auto&& step) {
    try {
      step();
    } catch (const api::Overloaded& e) {
      out[i].__set_error("overloaded: " + e.reason);
    } catch (const api::RenderFailed& e) {
      out[i].__set_error("render failed: " + e.reason);
    }
  };
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (fromCache(wanted[i], out[i].tile)) {
      out[i].__isset.tile = true;
      continue;
    }
    attempt(i, [&] { pending[i] = submitRender(wanted[i]); });
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!pending[i]) continue;
    attempt(i, [&] {
      out[i].__set_tile(awaitRender(wanted[i], *pending[i]));
      pending[i].reset();
    });
  }
}

int32_t TileServiceHandler::enqueue(const std::vector<api::TileRequest>& requests) {
  std::vector<Wanted> wanted;
  for (const auto& r : requests) wanted.push_back(check(r));
  std::set<MetatileKey> seen;
  int32_t jobs = 0;
  for (const auto& w : wanted) {
    if (!seen.insert(w.key).second) continue;
    if (w.priority == Priority::kDirty) {
      cache_.markDirty(w.key);  // kept even if the dirty queue is full now
    } else if (cache_.writtenAt(w.key) && !cache_.dirty(w.key)) {
      continue;  // already rendered
    }
    if (queue_.submit(w.key, w.priority).admit == Scheduler::Admit::kFull) {
      overloaded(w.priority, std::string("the ") + toString(w.priority) + " queue is full after " +
                                 std::to_string(jobs) + " of these were queued");
    }
    ++jobs;
  }
  return jobs;
}

void TileServiceHandler::status(api::MetatileStatus& out, const std::string& style, int32_t z,
                                int32_t x, int32_t y) {
  Wanted w = check(style, z, x, y);
  out = api::MetatileStatus();
  out.dirty = cache_.dirty(w.key);
  if (auto job = queue_.find(w.key)) {
    out.state = job->rendering ? api::MetatileState::RENDERING : api::MetatileState::QUEUED;
    out.__set_queued_as(toApi(job->priority));
  } else if (auto at = cache_.writtenAt(w.key)) {
    out.state = api::MetatileState::CACHED;
    out.__set_cached_at_ms(*at);
  } else {
    out.state = api::MetatileState::ABSENT;
  }
}

bool TileServiceHandler::markDirty(const MetatileKey& key) {
  bool marked = cache_.markDirty(key);
  bool queued = queue_.submit(key, Priority::kDirty).admit != Scheduler::Admit::kFull;
  return marked || queued;
}

int32_t TileServiceHandler::markDirty(const std::vector<api::TileRequest>& tiles) {
  std::set<MetatileKey> keys;
  for (const auto& t : tiles) keys.insert(check(t.style, t.z, t.x, t.y).key);
  return static_cast<int32_t>(
      std::count_if(keys.begin(), keys.end(), [&](const auto& k) { return markDirty(k); }));
}

int32_t TileServiceHandler::markRangeDirty(const std::string& style, int32_t min_zoom,
                                           int32_t max_zoom, const api::BoundingBox& box) {
  check(style, min_zoom, 0, 0);
  check(style, max_zoom, 0, 0);
  if (min_zoom > max_zoom) invalid("min_zoom is above max_zoom");
  double west = -180, south = -85.05112878, east = 180, north = 85.05112878;
  if (box.west != 0 || box.south != 0 || box.east != 0 || box.north != 0) {
    if (box.west >= box.east || box.south >= box.north) invalid("the box is empty");
    west = box.west, south = box.south, east = box.east, north = box.north;
  }
  int64_t total = 0;
  for (int z = min_zoom; z <= max_zoom; ++z) {
    total += metatileCount(tileAt(west, north, z), tileAt(east, south, z));
  }
  if (total > options_.max_range_metatiles) {
    invalid("the range holds " + std::to_string(total) + " metatiles, more than " +
            std::to_string(options_.max_range_metatiles));
  }
  int32_t marked = 0;
  for (int z = min_zoom; z <= max_zoom; ++z) {
    for (MetatileId m : metatilesCovering(tileAt(west, north, z), tileAt(east, south, z))) {
      MetatileKey key{style, m};
      if (!cache_.markDirty(key)) continue;  // no file: nothing to refresh
      queue_.submit(key, Priority::kDirty);  // if full, the next hit queues it
      ++marked;
    }
  }
  return marked;
}

void TileServiceHandler::listMaps(std::vector<api::MapInfo>& out) {
  out.clear();
  for (const auto& s : options_.styles) {
    api::MapInfo m;
    m.name = s.name;
    m.min_zoom = s.min_zoom;
    m.max_zoom = s.max_zoom;
    out.push_back(m);
  }
}

void TileServiceHandler::stats(api::Stats& out) {
  const auto& c = queue_.counters();
  out.requests = requests_;
  out.cache_hits = hits_;
  out.renders = c.renders;
  out.render_failures = c.failures;
  out.coalesced = c.coalesced;
  out.promoted = c.promoted;
  out.overloaded = c.refused;
  out.rendering = queue_.rendering();
  out.queues.clear();
  for (int p = 0; p < kPriorities; ++p) {
    api::QueueStats q;
    q.priority = static_cast<api::Priority::type>(p);
    q.queued = static_cast<int64_t>(queue_.queued(static_cast<Priority>(p)));
    q.capacity = static_cast<int64_t>(queue_.capacity(static_cast<Priority>(p)));
    out.queues.push_back(q);
  }
  int64_t done = c.renders + c.failures;
  out.mean_render_ms = done > 0 ? static_cast<double>(c.render_ms) / static_cast<double>(done) : 0;
}

}  // namespace thrum::tile
