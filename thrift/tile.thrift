// The tile-render service: map tiles rendered by Mapnik behind a queue
// dispatcher (metatiles, priority classes, coalescing, a renderd-compatible
// cache). Tiles are 256 px PNGs of the Web Mercator XYZ scheme: zoom z has
// 2^z x 2^z tiles, x grows east, y south.
namespace cpp thrum.tile.api
namespace java thrum.tile
namespace py thrum_tile

// Most urgent first. A request for a tile whose metatile is already queued
// joins that job, and a more urgent one promotes it.
enum Priority {
  INTERACTIVE = 0,  // someone is looking: answered before anything else
  PREFETCH = 1,     // likely to be looked at soon
  DIRTY = 2,        // re-render of a tile whose data changed; the old one is served meanwhile
  BULK = 3,         // seeding; never takes the last render slot
}

struct TileRequest {
  1: required string style,       // the map style's name, as listMaps() gives it
  2: required i32 z,
  3: required i32 x,
  4: required i32 y,
  5: optional Priority priority = Priority.INTERACTIVE,
  // How long the caller will wait for a render, in ms; past it the call
  // fails with RenderFailed "deadline" and the render goes on only if
  // someone else still wants it.
  6: optional i32 deadline_ms,
}

enum Source {
  CACHE = 0,     // read from the metatile cache
  RENDERED = 1,  // rendered for this request (or for one it joined)
}

struct Tile {
  1: required binary png,
  2: required Source source,
  // How long the render that made this metatile took, in ms (0 when it is
  // not known, for a file from an earlier run).
  3: required i32 render_ms,
  // Changes whenever the metatile is rendered again: usable as an ETag.
  4: required string version,
}

enum MetatileState {
  ABSENT = 0,     // never rendered (or its file was unreadable)
  CACHED = 1,
  QUEUED = 2,
  RENDERING = 3,
}

struct MetatileStatus {
  1: required MetatileState state,
  2: optional Priority queued_as,   // QUEUED / RENDERING: its class now
  3: optional i64 cached_at_ms,     // CACHED: when the file was written (unix ms);
                                    // a dirty file's stamp is its mark, 2000-01-01
  4: required bool dirty,           // a newer render has been asked for
}

struct MapInfo {
  1: required string name,
  2: required i32 min_zoom,
  3: required i32 max_zoom,
}

// A WGS84 box, degrees.
struct BoundingBox {
  1: required double west,
  2: required double south,
  3: required double east,
  4: required double north,
}

struct QueueStats {
  1: required Priority priority,
  2: required i64 queued,
  3: required i64 capacity,
}

struct Stats {
  1: required i64 requests,          // tiles asked for, any method
  2: required i64 cache_hits,
  3: required i64 renders,           // metatiles rendered
  4: required i64 render_failures,
  5: required i64 coalesced,         // requests that joined a queued or rendering job
  6: required i64 promoted,
  7: required i64 overloaded,        // requests refused because their class was full
  8: required i32 rendering,         // metatiles rendering now
  9: required list<QueueStats> queues,
  10: required double mean_render_ms,
}

// One answer of a batch: the tile, or why there is none.
struct TileResult {
  1: optional Tile tile,
  2: optional string error,
}

exception InvalidRequest {
  1: required string reason,  // "unknown style 'wrld'", "x 64 is outside 0..63 at z 6"
}

exception Overloaded {
  1: required Priority full_class,
  2: required i32 retry_after_ms,
  3: required string reason,
}

exception RenderFailed {
  1: required string reason,
}

service TileService {
  // One tile: from the cache at once, else rendered (with its metatile).
  Tile getTile(1: TileRequest request)
      throws (1: InvalidRequest invalid, 2: Overloaded overloaded, 3: RenderFailed failed),

  // Many tiles; each answered in order of the list, each with its tile or
  // its error. Invalid requests fail the whole call before any work starts.
  list<TileResult> getTiles(1: list<TileRequest> requests)
      throws (1: InvalidRequest invalid),

  // Queues renders and returns at once (prefetch, bulk, dirty). Returns how
  // many metatile jobs were queued or joined.
  i32 enqueue(1: list<TileRequest> requests)
      throws (1: InvalidRequest invalid, 2: Overloaded overloaded),

  MetatileStatus status(1: string style, 2: i32 z, 3: i32 x, 4: i32 y)
      throws (1: InvalidRequest invalid),

  // Marks the metatiles of these tiles dirty: each re-renders in the
  // background (class DIRTY) while its old tiles are still served. The
  // mark is kept in the cache file, across restarts; when the dirty queue
  // is full, a marked metatile is queued again when next requested.
  // Returns how many metatiles were marked or queued.
  i32 markDirty(1: list<TileRequest> tiles) throws (1: InvalidRequest invalid),

  // The same for every cached metatile of a zoom range, optionally inside
  // a box (metatiles never rendered have nothing to refresh).
  i32 markRangeDirty(1: string style, 2: i32 min_zoom, 3: i32 max_zoom, 4: optional BoundingBox box)
      throws (1: InvalidRequest invalid),

  list<MapInfo> listMaps(),

  Stats stats(),
}
