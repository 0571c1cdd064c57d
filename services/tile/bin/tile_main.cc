// thrum-tile: the tile service from a terminal.
//
//   thrum-tile get world/6/33/22 -o t.png        one tile to a file
//   thrum-tile seed world --zoom 0-6 [--bbox 5,55,15,65]   bulk-render, with progress
//   thrum-tile dirty world/6/33/22 ...           re-render in the background
//   thrum-tile dirty world --zoom 0-6 [--bbox W,S,E,N]
//   thrum-tile status world/6/33/22
//   thrum-tile stats | maps
//
// --connect takes an endpoint string (default 127.0.0.1:7070).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <thrift/TApplicationException.h>

#include "TileService.h"
#include "services/tile/core/tile_math.h"
#include "thrum/client/connect.h"

namespace {

using namespace thrum::tile;

struct Address {
  std::string style;
  int z = 0, x = 0, y = 0;
};

Address parseAddress(const std::string& text) {
  Address a;
  char slash;
  std::istringstream in(text);
  std::getline(in, a.style, '/');
  if (!(in >> a.z >> slash >> a.x >> slash >> a.y) || a.style.empty()) {
    throw CLI::ValidationError("tile", "'" + text + "' is not STYLE/Z/X/Y");
  }
  return a;
}

api::TileRequest request(const Address& a, api::Priority::type p) {
  api::TileRequest r;
  r.style = a.style;
  r.z = a.z;
  r.x = a.x;
  r.y = a.y;
  r.__set_priority(p);
  return r;
}

void parseZooms(const std::string& text, int& lo, int& hi) {
  char dash = 0;
  std::istringstream in(text);
  if (!(in >> lo)) throw CLI::ValidationError("--zoom", "'" + text + "' is not Z or Z0-Z1");
  hi = lo;
  if (in >> dash && (dash != '-' || !(in >> hi))) {
    throw CLI::ValidationError("--zoom", "'" + text + "' is not Z or Z0-Z1");
  }
}

api::BoundingBox parseBox(const std::string& text) {
  api::BoundingBox b;
  char c1, c2, c3;
  std::istringstream in(text);
  if (!(in >> b.west >> c1 >> b.south >> c2 >> b.east >> c3 >> b.north)) {
    throw CLI::ValidationError("--bbox", "'" + text + "' is not WEST,SOUTH,EAST,NORTH");
  }
  return b;
}

const char* stateName(api::MetatileState::type s) {
  switch (s) {
    case api::MetatileState::ABSENT:
      return "absent";
    case api::MetatileState::CACHED:
      return "cached";
    case api::MetatileState::QUEUED:
      return "queued";
    case api::MetatileState::RENDERING:
      return "rendering";
  }
  return "?";
}

const char* priorityName(int p) {
  static const char* names[] = {"interactive", "prefetch", "dirty", "bulk"};
  return p >= 0 && p < 4 ? names[p] : "?";
}

// Queues every metatile of the range at bulk priority, in batches, then
// shows renders against the total until the bulk queue is empty.
int seed(api::TileServiceClient& client, const std::string& style, int lo, int hi,
         const api::BoundingBox* box) {
  double west = box ? box->west : -180, south = box ? box->south : -85.05112878;
  double east = box ? box->east : 180, north = box ? box->north : 85.05112878;
  api::Stats before;
  client.stats(before);
  int64_t queued = 0;
  std::vector<api::TileRequest> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    queued += client.enqueue(batch);
    batch.clear();
  };
  for (int z = lo; z <= hi; ++z) {
    for (MetatileId m : metatilesCovering(tileAt(west, north, z), tileAt(east, south, z))) {
      batch.push_back(request({style, z, m.x, m.y}, api::Priority::BULK));
      if (batch.size() == 500) flush();
    }
  }
  flush();
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    api::Stats now;
    client.stats(now);
    int64_t done = (now.renders + now.render_failures) - (before.renders + before.render_failures);
    int64_t left = now.queues.at(api::Priority::BULK).queued;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int width = 40;
    int filled =
        queued > 0 ? static_cast<int>(width * std::min<int64_t>(done, queued) / queued) : width;
    std::fprintf(stderr, "\r[%s%s] %lld/%lld metatiles, %.1f s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(queued), seconds);
    if (left == 0 && now.rendering == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::fprintf(stderr, "\n");
  std::cout << queued << " metatiles queued for " << style << " z" << lo << "-" << hi << "\n";
  return 0;
}

// thrum-tile get: one tile to a PNG file.
void getTile(api::TileServiceClient& client, const std::string& tile_text, std::string out_file,
             const std::string& priority, int deadline_ms) {
  Address a = parseAddress(tile_text);
  api::TileRequest r =
      request(a, priority == "prefetch" ? api::Priority::PREFETCH : api::Priority::INTERACTIVE);
  if (deadline_ms > 0) r.__set_deadline_ms(deadline_ms);
  api::Tile tile;
  client.getTile(tile, r);
  if (out_file.empty()) {
    out_file = a.style + "-" + std::to_string(a.z) + "-" + std::to_string(a.x) + "-" +
               std::to_string(a.y) + ".png";
  }
  std::ofstream(out_file, std::ios::binary) << tile.png;
  std::cout << out_file << ": " << tile.png.size() << " bytes, "
            << (tile.source == api::Source::CACHE ? "from the cache" : "rendered")
            << (tile.render_ms > 0 ? " in " + std::to_string(tile.render_ms) + " ms" : "")
            << ", version " << tile.version << "\n";
}

// thrum-tile dirty: tiles, or a style's zoom range (and box).
void markDirty(api::TileServiceClient& client, const std::vector<std::string>& what,
               const std::string& zooms, const std::string& bbox) {
  int32_t n = 0;
  if (!zooms.empty()) {
    int lo, hi;
    parseZooms(zooms, lo, hi);
    api::BoundingBox box;
    if (!bbox.empty()) box = parseBox(bbox);
    n = client.markRangeDirty(what.at(0), lo, hi, box);
  } else {
    std::vector<api::TileRequest> tiles;
    for (const auto& t : what) tiles.push_back(request(parseAddress(t), api::Priority::DIRTY));
    n = client.markDirty(tiles);
  }
  std::cout << n << " metatiles marked dirty\n";
}

void showStatus(api::TileServiceClient& client, const std::string& tile_text) {
  Address a = parseAddress(tile_text);
  api::MetatileStatus s;
  client.status(s, a.style, a.z, a.x, a.y);
  std::cout << stateName(s.state);
  if (s.__isset.queued_as) std::cout << " as " << priorityName(s.queued_as);
  if (s.__isset.cached_at_ms) std::cout << ", written at " << s.cached_at_ms << " ms";
  std::cout << (s.dirty ? ", dirty" : "") << "\n";
}

void showStats(api::TileServiceClient& client) {
  api::Stats s;
  client.stats(s);
  std::cout << "requests " << s.requests << ", cache hits " << s.cache_hits << ", renders "
            << s.renders << " (" << s.render_failures << " failed, mean " << s.mean_render_ms
            << " ms), coalesced " << s.coalesced << ", promoted " << s.promoted << ", overloaded "
            << s.overloaded << ", rendering " << s.rendering << "\n";
  for (const auto& q : s.queues) {
    std::cout << "  " << priorityName(q.priority) << ": " << q.queued << " of " << q.capacity
              << " queued\n";
  }
}

void showMaps(api::TileServiceClient& client) {
  std::vector<api::MapInfo> maps;
  client.listMaps(maps);
  for (const auto& m : maps) std::cout << m.name << " z" << m.min_zoom << "-" << m.max_zoom << "\n";
}

// Runs `action`, turning the service's exceptions into a message and the
// exit status thrum-tile documents.
template <class Action>
int reporting(Action action) {
  try {
    return action();
  } catch (const api::InvalidRequest& e) {
    std::cerr << "thrum-tile: invalid request: " << e.reason << "\n";
    return 2;
  } catch (const api::Overloaded& e) {
    std::cerr << "thrum-tile: overloaded (" << priorityName(e.full_class) << "): " << e.reason
              << "; retry in " << e.retry_after_ms << " ms\n";
    return 3;
  } catch (const api::RenderFailed& e) {
    std::cerr << "thrum-tile: render failed: " << e.reason << "\n";
    return 4;
  } catch (const std::exception& e) {
    std::cerr << "thrum-tile: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"thrum-tile: fetch, seed and inspect map tiles on a thrum tile server"};
  app.require_subcommand(1);
  std::string connect = "127.0.0.1:7070";
  app.add_option("--connect", connect, "endpoint string of the server");

  auto* get = app.add_subcommand("get", "fetch one tile to a PNG file");
  std::string tile_text, out_file;
  int deadline_ms = 0;
  std::string priority = "interactive";
  get->add_option("tile", tile_text, "STYLE/Z/X/Y")->required();
  get->add_option("-o,--output", out_file, "PNG file (default STYLE-Z-X-Y.png)");
  get->add_option("--deadline-ms", deadline_ms, "wait at most this long for a render");
  get->add_option("--priority", priority, "interactive or prefetch")
      ->check(CLI::IsMember({"interactive", "prefetch"}));

  auto* seed_cmd = app.add_subcommand("seed", "render a zoom range at bulk priority");
  std::string style, zooms, bbox;
  seed_cmd->add_option("style", style, "style name")->required();
  seed_cmd->add_option("--zoom", zooms, "Z or Z0-Z1")->required();
  seed_cmd->add_option("--bbox", bbox, "WEST,SOUTH,EAST,NORTH in degrees");

  auto* dirty = app.add_subcommand("dirty", "re-render in the background, old tiles still served");
  std::vector<std::string> dirty_args;
  std::string dirty_zooms, dirty_bbox;
  dirty->add_option("what", dirty_args, "STYLE/Z/X/Y tiles, or a STYLE with --zoom")->required();
  dirty->add_option("--zoom", dirty_zooms, "Z or Z0-Z1 (with a STYLE)");
  dirty->add_option("--bbox", dirty_bbox, "WEST,SOUTH,EAST,NORTH in degrees");

  auto* status = app.add_subcommand("status", "what a tile's metatile is doing");
  std::string status_tile;
  status->add_option("tile", status_tile, "STYLE/Z/X/Y")->required();

  app.add_subcommand("stats", "the server's counters and queues");
  app.add_subcommand("maps", "styles and their zoom ranges");
  CLI11_PARSE(app, argc, argv);
  auto conn = thrum::connect(connect, {});
  if (!conn) {
    std::cerr << "thrum-tile: " << conn.error() << "\n";
    return 1;
  }
  api::TileServiceClient client(conn->protocol);
  return reporting([&] {
    if (get->parsed()) {
      getTile(client, tile_text, out_file, priority, deadline_ms);
    } else if (seed_cmd->parsed()) {
      int lo, hi;
      parseZooms(zooms, lo, hi);
      api::BoundingBox box;
      if (!bbox.empty()) box = parseBox(bbox);
      return seed(client, style, lo, hi, bbox.empty() ? nullptr : &box);
    } else if (dirty->parsed()) {
      markDirty(client, dirty_args, dirty_zooms, dirty_bbox);
    } else if (status->parsed()) {
      showStatus(client, status_tile);
    } else if (app.got_subcommand("stats")) {
      showStats(client);
    } else {
      showMaps(client);
    }
    return 0;
  });
}
