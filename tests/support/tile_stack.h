// A whole tile server for tests: thrum's server on 127.0.0.1:0 with the tile
// service's handler, a render queue of real thrum-tile-render processes with
// the world style and data (deploy/prepare-data.sh), and a cache directory.
// Renders are stored as the real server stores them (storeRendered()).
// Needs the compile definitions THRUM_TILE_DATA, THRUM_SOURCE_DIR and
// THRUM_TILE_RENDER (tests/CMakeLists.txt sets them).
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "TileService.h"
#include "services/tile/render/render_process.h"
#include "services/tile/service/tile_service.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

#include <mapnik/image_reader.hpp>

namespace thrum::testing {

inline const std::string kData = THRUM_TILE_DATA "/shp";
inline const std::string kStyle = THRUM_SOURCE_DIR "/services/tile/style/world.xml";

inline bool isTilePng(const std::string& png) {
  std::unique_ptr<mapnik::image_reader> reader(mapnik::get_image_reader(png.data(), png.size()));
  return reader && reader->width() == 256 && reader->height() == 256;
}

inline tile::api::TileRequest req(int z, int x, int y,
                                  tile::api::Priority::type p = tile::api::Priority::INTERACTIVE) {
  tile::api::TileRequest r;
  r.style = "world";
  r.z = z;
  r.x = x;
  r.y = y;
  r.__set_priority(p);
  return r;
}

class TileStack {
 public:
  explicit TileStack(const std::string& cache_dir,
                     tile::Scheduler::Options queue_options = defaults(),
                     std::chrono::milliseconds render_limit = std::chrono::seconds(60))
      : cache_(cache_dir) {
    std::string error;
    tile::RenderProcess::Options render{.program = THRUM_TILE_RENDER,
                                        .styles = {{"world", kStyle, kData}},
                                        .encode_threads = 2,
                                        .time_limit = render_limit};
    queue_ = std::make_unique<tile::RenderQueue>(
        queue_options,
        [render](bool, std::string& e) -> std::unique_ptr<tile::RenderBackend> {
          return tile::RenderProcess::start(render, e);
        },
        [this](const tile::MetatileKey& key, tile::RenderOutcome& o) {
          tile::storeRendered(cache_, key, o);
        });
    if (!queue_->start(error)) throw std::runtime_error(error);
    tile::TileServiceOptions service;
    service.styles = {{"world", 0, 12}};
    server_ = std::make_unique<Server>(std::make_shared<tile::api::TileServiceProcessor>(
        std::make_shared<tile::TileServiceHandler>(service, cache_, *queue_)));
    server_->listen("tcp:port=0:interface=127.0.0.1").orThrow();
    server_->start();
  }
  ~TileStack() {
    (void)server_->stop();
    queue_->stop();
  }

  static tile::Scheduler::Options defaults() {
    tile::Scheduler::Options o;
    o.render_slots = 2;
    return o;
  }

  // A connected client; keep the connection alive as long as the client.
  struct Client {
    Connection conn;
    std::unique_ptr<tile::api::TileServiceClient> api;
    tile::api::TileServiceClient* operator->() { return api.get(); }
  };
  Client client() {
    auto conn = thrum::connect("tcp:host=127.0.0.1:port=" + std::to_string(server_->port()),
                               {.io_timeout = std::chrono::milliseconds(60000)});
    if (!conn) throw std::runtime_error(conn.error());
    Client c{*conn, nullptr};
    c.api = std::make_unique<tile::api::TileServiceClient>(c.conn.protocol);
    return c;
  }

  tile::TileCache& cache() { return cache_; }
  tile::RenderQueue& queue() { return *queue_; }
  Server& server() { return *server_; }

 private:
  tile::TileCache cache_;
  std::unique_ptr<tile::RenderQueue> queue_;
  std::unique_ptr<Server> server_;
};

}  // namespace thrum::testing
