// Tiles and metatiles of the Web Mercator "XYZ" scheme (x grows east, y
// south; zoom z has 2^z x 2^z tiles of 256 px), and where renderd keeps a
// metatile on disk. Pure functions.
//
//   tile::TileId t{6, 33, 22};
//   tile::MetatileId m = tile::metatileOf(t);     // {6, 32, 16}
//   std::string path = tile::metaPath("/var/cache/thrum", "world", m);
//     // /var/cache/thrum/world/6/0/0/0/33/0.meta
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace thrum::tile {

constexpr int kTileSize = 256;    // px
constexpr int kMetatileSize = 8;  // tiles per side
constexpr int kMaxZoom = 24;      // what the arithmetic below supports
// Half the EPSG:3857 world in metres, rounded as renderd rounds it (its
// tile2prj), so metatile bounds and therefore tiles are byte-identical.
constexpr double kWorldHalf = 20037508.3428;

struct TileId {
  int z = 0, x = 0, y = 0;
  friend bool operator==(const TileId&, const TileId&) = default;
};

// A metatile by its corner tile (x & ~7, y & ~7).
struct MetatileId {
  int z = 0, x = 0, y = 0;
  friend bool operator==(const MetatileId&, const MetatileId&) = default;
  friend auto operator<=>(const MetatileId&, const MetatileId&) = default;
};

// Empty when the tile exists, else why not ("z 25 is over the maximum 24",
// "x 64 is outside 0..63 at z 6").
std::string checkTile(const TileId& t, int max_zoom = kMaxZoom);

// Tiles per metatile side at zoom z: 8, or the whole world when smaller.
inline int metatileSpan(int z) {
  return z < 3 ? 1 << z : kMetatileSize;
}

inline MetatileId metatileOf(const TileId& t) {
  return {t.z, t.x & ~(kMetatileSize - 1), t.y & ~(kMetatileSize - 1)};
}

// The tile's entry in a metatile: (x & 7) * 8 + (y & 7), as renderd has it.
inline int metaIndex(const TileId& t) {
  return (t.x & (kMetatileSize - 1)) * kMetatileSize + (t.y & (kMetatileSize - 1));
}

// The metatiles that hold the tiles from `nw` to `se` (one zoom; `nw` the
// north-west corner), in x then y order, and how many they are.
std::vector<MetatileId> metatilesCovering(const TileId& nw, const TileId& se);
int64_t metatileCount(const TileId& nw, const TileId& se);

struct Bounds {
  double min_x, min_y, max_x, max_y;  // EPSG:3857 metres
};

// What the metatile covers (not counting the render buffer).
Bounds mercatorBounds(const MetatileId& m);

// renderd's layout: TILE_DIR/STYLE/Z/h4/h3/h2/h1/h0.meta with
// h_i = ((mx & 15) << 4) | (my & 15), shifting mx, my right by 4 each step.
std::string metaPath(const std::string& tile_dir, const std::string& style, const MetatileId& m);

// The tile that holds a WGS84 point at zoom z (latitude clamped to what
// Mercator shows).
TileId tileAt(double lon, double lat, int z);

}  // namespace thrum::tile
