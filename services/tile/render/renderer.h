// Renderer: Mapnik 3.1 turning one metatile of a style into its tiles'
// PNGs (png256, the encoding renderd uses, so tiles are byte-identical to
// its for the same style and data).
//
//   tile::Renderer::initMapnik();                 // once per process
//   tile::Renderer r({{"world", "style/world.xml", "data/shp"}}, encoder, error);
//   std::vector<std::string> pngs;                // by metaIndex(), 64 entries
//   r.render("world", {6, 32, 16}, pngs, error);
//
// A mapnik::Map is not safe to share between threads: each render thread
// owns a Renderer (one Map per style). The 2048 x 2048 image is drawn with a
// 128 px buffer around it, then cut into 256 px tiles whose PNG encoding
// (more than half of the work from z3 up) runs in parallel on `encoder`,
// with the rendering thread taking its share. A tile of one colour (open
// sea) is encoded once per process and reused: png256 is deterministic, so
// the bytes are the same.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "services/tile/core/tile_math.h"
#include "services/tile/core/types.h"
#include "thrum/io/task_pool.h"

namespace mapnik {
class Map;
}

namespace thrum::tile {

class Renderer {
 public:
  // Registers Mapnik's input plugins and the fonts; false with the reason.
  static bool initMapnik(std::string& error);

  // Loads every style; on failure `error` names the style and Mapnik's reason.
  Renderer(const std::vector<StyleSource>& styles, io::TaskPool* encoder, std::string& error);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  bool render(const std::string& style, const MetatileId& m, std::vector<std::string>& pngs,
              std::string& error);

  static constexpr int kBufferPx = 128;

 private:
  std::map<std::string, std::unique_ptr<mapnik::Map>> maps_;
  io::TaskPool* encoder_;
};

}  // namespace thrum::tile
