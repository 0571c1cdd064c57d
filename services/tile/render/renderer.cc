#include "services/tile/render/renderer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "services/tile/storage/meta_file.h"

#include <mapnik/agg_renderer.hpp>
#include <mapnik/datasource_cache.hpp>
#include <mapnik/font_engine_freetype.hpp>
#include <mapnik/image.hpp>
#include <mapnik/image_util.hpp>
#include <mapnik/image_view.hpp>
#include <mapnik/load_map.hpp>
#include <mapnik/map.hpp>

namespace thrum::tile {
namespace {

constexpr const char* kInputPlugins = "/usr/lib/mapnik/3.1/input";
constexpr const char* kFonts = "/usr/share/fonts/truetype/dejavu";

// Runs fn(0..n-1) on up to `helpers` pool threads and the caller, which
// takes items too, so the work finishes even when the pool is busy. A
// helper that starts after the caller is done touches nothing of its.
template <typename Fn>
void parallelFor(io::TaskPool* pool, int n, int helpers, const Fn& fn) {
  struct Shared {
    std::atomic<int> next{0};
    std::mutex mu;
    std::condition_variable idle;
    int active = 0;
    bool closed = false;
  };
  auto shared = std::make_shared<Shared>();
  auto drain = [n](Shared& s, const Fn& f) {
    for (int i = s.next.fetch_add(1); i < n; i = s.next.fetch_add(1)) f(i);
  };
  for (int h = 0; pool != nullptr && h < helpers; ++h) {
    bool queued = pool->trySubmit([shared, fp = &fn, drain] {
      {
        std::lock_guard lock(shared->mu);
        if (shared->closed) return;
        ++shared->active;
      }
      drain(*shared, *fp);
      std::lock_guard lock(shared->mu);
      if (--shared->active == 0) shared->idle.notify_all();
    });
    if (!queued) break;
  }
  drain(*shared, fn);
  std::unique_lock lock(shared->mu);
  shared->closed = true;
  shared->idle.wait(lock, [&] { return shared->active == 0; });
}

// png256 is deterministic: a tile of one colour always encodes to the same
// bytes, so each colour is encoded once per process.
const std::string& uniformPng(uint32_t rgba, const mapnik::image_view_rgba8& view) {
  static std::mutex mu;
  static std::unordered_map<uint32_t, std::string> encoded;  // a handful of colours
  {
    std::lock_guard lock(mu);
    auto it = encoded.find(rgba);
    if (it != encoded.end()) return it->second;
  }
  std::string png = mapnik::save_to_string(view, "png256");
  std::lock_guard lock(mu);
  return encoded.emplace(rgba, std::move(png)).first->second;
}

// The tile's one colour, if every pixel has it.
std::optional<uint32_t> uniformColour(const mapnik::image_view_rgba8& view) {
  const uint32_t first = view(0, 0);
  for (unsigned y = 0; y < view.height(); ++y) {
    const uint32_t* row = view.get_row(y);
    for (unsigned x = 0; x < view.width(); ++x) {
      if (row[x] != first) return std::nullopt;
    }
  }
  return first;
}

}  // namespace

bool Renderer::initMapnik(std::string& error) {
  static bool ok = [] {
    mapnik::datasource_cache::instance().register_datasources(kInputPlugins);
    mapnik::freetype_engine::register_fonts(kFonts, true);
    return true;
  }();
  auto plugins = mapnik::datasource_cache::instance().plugin_names();
  bool has_shape = std::find(plugins.begin(), plugins.end(), "shape") != plugins.end();
  if (!ok || !has_shape) {
    error = std::string("Mapnik's shape input plugin is not in ") + kInputPlugins;
    return false;
  }
  return true;
}

Renderer::Renderer(const std::vector<StyleSource>& styles, io::TaskPool* encoder,
                   std::string& error)
    : encoder_(encoder) {
  for (const auto& s : styles) {
    std::ifstream in(s.xml);
    if (!in) {
      error = "style " + s.name + ": cannot read " + s.xml;
      return;
    }
    std::stringstream xml;
    xml << in.rdbuf();
    auto map = std::make_unique<mapnik::Map>(kTileSize * kMetatileSize, kTileSize * kMetatileSize);
    try {
      // Strict: an unknown symbolizer or a missing file is an error now,
      // not a blank tile later.
      mapnik::load_map_string(*map, xml.str(), true, s.data_dir + "/");
    } catch (const std::exception& e) {
      error = "style " + s.name + " (" + s.xml + "): " + e.what();
      return;
    }
    map->set_buffer_size(kBufferPx);
    maps_[s.name] = std::move(map);
  }
}

Renderer::~Renderer() = default;

bool Renderer::render(const std::string& style, const MetatileId& m, std::vector<std::string>& pngs,
                      std::string& error) {
  auto it = maps_.find(style);
  if (it == maps_.end()) {
    error = "unknown style " + style;
    return false;
  }
  mapnik::Map& map = *it->second;
  int span = metatileSpan(m.z);
  int px = span * kTileSize;
  map.resize(px, px);
  Bounds b = mercatorBounds(m);
  map.zoom_to_box(mapnik::box2d<double>(b.min_x, b.min_y, b.max_x, b.max_y));
  mapnik::image_rgba8 image(px, px);
  try {
    mapnik::agg_renderer<mapnik::image_rgba8> renderer(map, image, 1.0, 0, 0);
    renderer.apply();
  } catch (const std::exception& e) {
    error = "render of " + style + "/" + std::to_string(m.z) + "/" + std::to_string(m.x) + "/" +
            std::to_string(m.y) + ": " + e.what();
    return false;
  }
  pngs.assign(kMetaEntries, {});
  parallelFor(encoder_, span * span, 3, [&](int i) {
    int dx = i / span, dy = i % span;
    mapnik::image_view_rgba8 view(dx * kTileSize, dy * kTileSize, kTileSize, kTileSize, image);
    std::optional<uint32_t> colour = uniformColour(view);
    pngs[dx * kMetatileSize + dy] =
        colour ? uniformPng(*colour, view) : mapnik::save_to_string(view, "png256");
  });
  return true;
}

}  // namespace thrum::tile
