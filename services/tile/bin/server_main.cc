// thrum-tile-server: map tiles rendered by Mapnik behind a queue dispatcher.
//
//   thrum-tile-server --listen 127.0.0.1:7070 --tile-dir /var/cache/thrum-tile
//       --data-dir /var/lib/thrum-tile/shp --style world=/usr/share/thrum/style/world.xml
//
// Every setting is also a TOML key (--config FILE) and an environment
// variable (THRUM_TILE_DIR, ...); --help lists them, --check-config prints
// the effective configuration. Prints "listening on ADDR" per endpoint once
// it accepts; drains on SIGTERM or SIGINT.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/tile/render/render_process.h"
#include "services/tile/service/tile_service.h"
#include "thrum/thrum.h"

namespace {

using namespace thrum::tile;

// A style as --style gives it: NAME=FILE.xml.
thrum::Status parseStyle(std::string_view text, StyleSource& style) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return thrum::Status::failure("a style is NAME=FILE.xml, not '" + std::string(text) + "'");
  }
  style = {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)), ""};
  return {};
}

// The tile server's settings (besides thrum's own), with their defaults.
struct TileSettings {
  std::string tile_dir = "tile-cache";
  std::string data_dir = "tile-data/shp";
  std::vector<std::string> styles{"world=services/tile/style/world.xml"};
  int min_zoom = 0, max_zoom = 12, render_threads = 2, reserved_threads = 1, encode_threads = 0;
  int background_nice = 0, render_timeout_ms = 60000;
  std::string render_program = RenderProcess::defaultProgram(), pause_background = "on";
  int interactive = 1024, prefetch = 4096, dirty = 65536, bulk = 65536;
  int aging_ms = 60000, deadline_ms = 30000, max_waiters = 48;

  void addTo(thrum::config::Schema& schema);
  // Each --style, parsed.
  std::vector<StyleSource> sources() const;
  TileServiceOptions service(const std::vector<StyleSource>& sources) const;
  Scheduler::Options queue() const;
  RenderProcess::Options process(const std::vector<StyleSource>& sources, bool reserved) const;
};

void TileSettings::addTo(thrum::config::Schema& schema) {
  auto checkStyle = [](const std::string& text) {
    StyleSource ignored;
    return parseStyle(text, ignored);
  };
  schema.text("tile-dir", &tile_dir, "metatile cache (renderd's layout)")
      .text("data-dir", &data_dir, "shapefiles the styles read (deploy/prepare-data.sh)")
      .list("style", &styles, "a map style, NAME=FILE.xml (repeatable)", checkStyle)
      .integer("min-zoom", &min_zoom, 0, kMaxZoom, "lowest zoom served")
      .integer("max-zoom", &max_zoom, 0, kMaxZoom, "highest zoom served")
      .integer("render-threads", &render_threads, 1, 256, "render threads for any priority")
      .integer("reserved-render-threads", &reserved_threads, 0, 256,
               "more render threads for interactive and prefetch work only")
      .integer("render-timeout-ms", &render_timeout_ms, 1, 86400000,
               "a render running longer (not counting time paused) is killed and fails")
      .choice("pause-background", &pause_background, {"on", "off"},
              "pause dirty and bulk renders while live work renders")
      .integer("background-nice", &background_nice, 0, 19,
               "nice value of the general render processes")
      .integer("encode-threads", &encode_threads, 0, 256,
               "PNG encoders per render process (0: one per CPU)")
      .text("render-program", &render_program, "the render process (thrum-tile-render)")
      .integer("queue-interactive", &interactive, 1, 1 << 24, "interactive jobs queued at most")
      .integer("queue-prefetch", &prefetch, 1, 1 << 24, "prefetch jobs queued at most")
      .integer("queue-dirty", &dirty, 1, 1 << 24, "dirty jobs queued at most")
      .integer("queue-bulk", &bulk, 1, 1 << 24, "bulk jobs queued at most")
      .integer("aging-ms", &aging_ms, 1, 86400000,
               "a queued job counts as one class more urgent per this much waiting")
      .integer("deadline-ms", &deadline_ms, 1, 3600000,
               "how long a request waits for a render unless it says")
      .integer("max-render-waiters", &max_waiters, 1, 1 << 20,
               "requests waiting for renders at once (keep below --workers)");
}

std::vector<StyleSource> TileSettings::sources() const {
  std::vector<StyleSource> out(styles.size());
  for (size_t i = 0; i < styles.size(); ++i) {
    (void)parseStyle(styles[i], out[i]);  // checked as the settings loaded
    out[i].data_dir = data_dir;
  }
  return out;
}

TileServiceOptions TileSettings::service(const std::vector<StyleSource>& sources) const {
  TileServiceOptions o;
  for (const auto& s : sources) o.styles.push_back({s.name, min_zoom, max_zoom});
  o.max_render_waiters = max_waiters;
  o.default_deadline = std::chrono::milliseconds(deadline_ms);
  return o;
}

Scheduler::Options TileSettings::queue() const {
  Scheduler::Options o;
  o.render_slots = render_threads;
  o.reserved_slots = reserved_threads;
  o.capacity = {static_cast<size_t>(interactive), static_cast<size_t>(prefetch),
                static_cast<size_t>(dirty), static_cast<size_t>(bulk)};
  o.aging_step = std::chrono::milliseconds(aging_ms);
  return o;
}

RenderProcess::Options TileSettings::process(const std::vector<StyleSource>& sources,
                                             bool reserved) const {
  return {.program = render_program,
          .styles = sources,
          .encode_threads = encode_threads,
          .nice = reserved ? 0 : background_nice,
          .time_limit = std::chrono::milliseconds(render_timeout_ms)};
}

}  // namespace

int main(int argc, char** argv) {
  TileSettings settings;
  // Built once the settings are loaded; they outlive the server, which
  // serve() stops before it returns.
  std::optional<TileCache> cache;
  std::optional<RenderQueue> queue;

  auto processor = [&](const thrum::ServiceSettings&)
      -> thrum::Result<std::shared_ptr<apache::thrift::TProcessor>> {
    if (settings.min_zoom > settings.max_zoom) {
      return thrum::Status::failure("min-zoom " + std::to_string(settings.min_zoom) +
                                    " is above max-zoom " + std::to_string(settings.max_zoom));
    }
    std::vector<StyleSource> sources = settings.sources();
    cache.emplace(settings.tile_dir);
    queue.emplace(
        settings.queue(),
        [&, sources](bool reserved, std::string& e) -> std::unique_ptr<RenderBackend> {
          return RenderProcess::start(settings.process(sources, reserved), e);
        },
        [&](const MetatileKey& key, RenderOutcome& outcome) {
          storeRendered(*cache, key, outcome);
        });
    queue->setPauseBackground(settings.pause_background == "on");
    std::string error;
    if (!queue->start(error)) return thrum::Status::failure(error);  // loads every style
    return std::make_shared<api::TileServiceProcessor>(
        std::make_shared<TileServiceHandler>(settings.service(sources), *cache, *queue));
  };

  return thrum::serve(argc, argv,
                      {.name = "thrum-tile-server",
                       .listen = {"127.0.0.1:7070"},
                       // handlers may wait for renders; hits need free workers
                       .server = {.workers = 64},
                       .settings = [&](thrum::config::Schema& s) { settings.addTo(s); },
                       .processor = processor});
}
