// The words every part of the tile service shares: how urgent a request
// is, which metatile of which style, and where a style comes from. Here so
// that the cache and the render wire need not include the scheduler, nor
// the renderer the render queue.
#pragma once

#include <compare>
#include <string>

#include "services/tile/core/tile_math.h"

namespace thrum::tile {

// Request classes, most urgent first (scheduler.h says how they are served).
enum class Priority : int { kInteractive = 0, kPrefetch = 1, kDirty = 2, kBulk = 3 };
constexpr int kPriorities = 4;
// "interactive", "prefetch", "dirty", "bulk".
const char* toString(Priority p);

// One metatile of one style: the unit that is queued, rendered and stored.
struct MetatileKey {
  std::string style;
  MetatileId m;
  friend auto operator<=>(const MetatileKey&, const MetatileKey&) = default;
  friend bool operator==(const MetatileKey&, const MetatileKey&) = default;
};

// A map style a backend renders: its name, its Mapnik XML file, and where
// the style's relative datasource paths point.
struct StyleSource {
  std::string name;      // as clients name it ("world")
  std::string xml;       // Mapnik XML file
  std::string data_dir;  // shapefiles
};

}  // namespace thrum::tile
