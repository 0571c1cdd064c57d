#include "services/tile/core/tile_math.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace thrum::tile {

std::string checkTile(const TileId& t, int max_zoom) {
  if (t.z < 0 || t.z > max_zoom) {
    return "z " + std::to_string(t.z) + " is outside 0.." + std::to_string(max_zoom);
  }
  int64_t n = int64_t{1} << t.z;
  auto outside = [&](const char* axis, int v) {
    return std::string(axis) + " " + std::to_string(v) + " is outside 0.." + std::to_string(n - 1) +
           " at z " + std::to_string(t.z);
  };
  if (t.x < 0 || t.x >= n) return outside("x", t.x);
  if (t.y < 0 || t.y >= n) return outside("y", t.y);
  return {};
}

Bounds mercatorBounds(const MetatileId& m) {
  double tile = 2 * kWorldHalf / static_cast<double>(int64_t{1} << m.z);
  double span = metatileSpan(m.z) * tile;
  double min_x = -kWorldHalf + m.x * tile;
  double max_y = kWorldHalf - m.y * tile;
  return {min_x, max_y - span, min_x + span, max_y};
}

std::string metaPath(const std::string& tile_dir, const std::string& style, const MetatileId& m) {
  unsigned mx = static_cast<unsigned>(m.x), my = static_cast<unsigned>(m.y);
  unsigned h[5];
  for (unsigned& part : h) {
    part = ((mx & 15) << 4) | (my & 15);
    mx >>= 4;
    my >>= 4;
  }
  return tile_dir + "/" + style + "/" + std::to_string(m.z) + "/" + std::to_string(h[4]) + "/" +
         std::to_string(h[3]) + "/" + std::to_string(h[2]) + "/" + std::to_string(h[1]) + "/" +
         std::to_string(h[0]) + ".meta";
}

TileId tileAt(double lon, double lat, int z) {
  constexpr double kMaxLat = 85.05112878;
  lat = std::clamp(lat, -kMaxLat, kMaxLat);
  lon = std::clamp(lon, -180.0, 180.0);
  double n = static_cast<double>(int64_t{1} << z);
  double lat_rad = lat * std::numbers::pi / 180.0;
  double x = (lon + 180.0) / 360.0 * n;
  double y = (1.0 - std::asinh(std::tan(lat_rad)) / std::numbers::pi) / 2.0 * n;
  auto cell = [&](double v) { return static_cast<int>(std::clamp(std::floor(v), 0.0, n - 1)); };
  return {z, cell(x), cell(y)};
}

std::vector<MetatileId> metatilesCovering(const TileId& nw, const TileId& se) {
  std::vector<MetatileId> out;
  MetatileId first = metatileOf(nw);
  for (int mx = first.x; mx <= se.x; mx += kMetatileSize) {
    for (int my = first.y; my <= se.y; my += kMetatileSize) out.push_back({nw.z, mx, my});
  }
  return out;
}

int64_t metatileCount(const TileId& nw, const TileId& se) {
  MetatileId a = metatileOf(nw), b = metatileOf(se);
  return int64_t{(b.x - a.x) / kMetatileSize + 1} * ((b.y - a.y) / kMetatileSize + 1);
}

}  // namespace thrum::tile
