// thrum-tile-load: load for the tile benchmark, with the stock generated
// C++ client of thrift/tile.thrift.
//
//   thrum-tile-load --connect ADDR hits --tiles FILE --connections 64 --seconds 5
//       closed loop of getTile over the tiles in FILE ("STYLE Z X Y" lines),
//       one connection per thread; prints {"calls":N,"seconds":S,"p50_us":..,"p99_us":..}
//   thrum-tile-load --connect ADDR latency --tiles FILE
//       one getTile at a time; prints {"ms":[...],"sources":[...]}
//   thrum-tile-load --connect ADDR burst --tiles FILE
//       every tile at once, one connection each; prints {"ms":[...]}
//   thrum-tile-load --connect ADDR enqueue --tiles FILE
//       queues every tile's metatile at bulk priority and returns; prints {"jobs":N}
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "TileService.h"
#include "thrum/client/connect.h"

namespace {

using namespace thrum::tile;
using Clock = std::chrono::steady_clock;

std::vector<api::TileRequest> readTiles(const std::string& path) {
  std::vector<api::TileRequest> out;
  std::ifstream in(path);
  api::TileRequest r;
  while (in >> r.style >> r.z >> r.x >> r.y) out.push_back(r);
  if (out.empty()) throw std::runtime_error("no tiles in " + path);
  return out;
}

std::unique_ptr<api::TileServiceClient> connect(const std::string& endpoint,
                                                std::vector<thrum::Connection>& keep) {
  auto conn = thrum::connect(endpoint, {.io_timeout = std::chrono::milliseconds(120000)});
  if (!conn) throw std::runtime_error(conn.error());
  keep.push_back(*conn);
  return std::make_unique<api::TileServiceClient>(conn->protocol);
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void printList(const char* name, const std::vector<double>& v) {
  std::cout << "\"" << name << "\":[";
  for (size_t i = 0; i < v.size(); ++i) std::cout << (i ? "," : "") << v[i];
  std::cout << "]";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"thrum-tile-load: load for the tile benchmark"};
  app.require_subcommand(1);
  std::string endpoint = "127.0.0.1:7070", tiles_file;
  int connections = 64;
  double seconds = 5;
  app.add_option("--connect", endpoint);
  auto* hits = app.add_subcommand("hits");
  hits->add_option("--tiles", tiles_file)->required();
  hits->add_option("--connections", connections);
  hits->add_option("--seconds", seconds);
  auto* latency = app.add_subcommand("latency");
  latency->add_option("--tiles", tiles_file)->required();
  auto* burst = app.add_subcommand("burst");
  burst->add_option("--tiles", tiles_file)->required();
  auto* enqueue = app.add_subcommand("enqueue");
  enqueue->add_option("--tiles", tiles_file)->required();
  CLI11_PARSE(app, argc, argv);

  auto tiles = readTiles(tiles_file);
  std::vector<thrum::Connection> keep;
  if (hits->parsed()) {
    std::vector<std::unique_ptr<api::TileServiceClient>> clients;
    for (int i = 0; i < connections; ++i) clients.push_back(connect(endpoint, keep));
    std::atomic<bool> stop{false};
    std::vector<std::vector<float>> lat(connections);
    std::vector<std::thread> threads;
    auto start = Clock::now();
    for (int i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        size_t k = static_cast<size_t>(i) * 7919;
        api::Tile t;
        while (!stop) {
          auto t0 = Clock::now();
          clients[i]->getTile(t, tiles[k++ % tiles.size()]);
          lat[i].push_back(static_cast<float>(ms(Clock::now() - t0) * 1000));
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    double took = ms(Clock::now() - start) / 1000;
    std::vector<float> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    std::cout << "{\"calls\":" << all.size() << ",\"seconds\":" << took
              << ",\"p50_us\":" << all[all.size() / 2]
              << ",\"p99_us\":" << all[all.size() * 99 / 100] << "}\n";
  } else if (latency->parsed()) {
    auto client = connect(endpoint, keep);
    std::vector<double> out, sources, render_ms;
    for (const auto& r : tiles) {
      api::Tile t;
      auto t0 = Clock::now();
      client->getTile(t, r);
      out.push_back(ms(Clock::now() - t0));
      sources.push_back(t.source == api::Source::CACHE ? 0 : 1);
      render_ms.push_back(t.render_ms);
    }
    std::cout << "{";
    printList("ms", out);
    std::cout << ",";
    printList("rendered", sources);
    std::cout << ",";
    printList("render_ms", render_ms);
    std::cout << "}\n";
  } else if (enqueue->parsed()) {
    auto client = connect(endpoint, keep);
    for (auto& t : tiles) t.__set_priority(api::Priority::BULK);
    std::cout << "{\"jobs\":" << client->enqueue(tiles) << "}\n";
  } else {
    std::vector<std::unique_ptr<api::TileServiceClient>> clients;
    for (size_t i = 0; i < tiles.size(); ++i) clients.push_back(connect(endpoint, keep));
    std::vector<double> out(tiles.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < tiles.size(); ++i) {
      threads.emplace_back([&, i] {
        api::Tile t;
        auto t0 = Clock::now();
        clients[i]->getTile(t, tiles[i]);
        out[i] = ms(Clock::now() - t0);
      });
    }
    for (auto& t : threads) t.join();
    std::cout << "{";
    printList("ms", out);
    std::cout << "}\n";
  }
  return 0;
}
