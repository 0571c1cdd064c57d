// The tile service over real sockets with real Mapnik and the world data:
// thrum's server, the Thrift handler, the render queue and the cache, called
// by the stock generated C++ client.
#include "services/tile/service/tile_service.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "TileService.h"
#include "services/tile/render/render_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tile_stack.h"
#include "tests/support/wait.h"
#include "thrum/client/connect.h"
#include "thrum/server/server.h"

#include <mapnik/image.hpp>
#include <mapnik/image_any.hpp>
#include <mapnik/image_reader.hpp>

namespace thrum::tile {
namespace {

namespace fs = std::filesystem;
using testing::kData;
using testing::kStyle;

using testing::isTilePng;
using testing::req;
using testing::TileStack;

class TileService : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kData + "/countries.shp"))
        << "no world data in " << kData << ": run deploy/prepare-data.sh";
  }
  testing::TempDir tmp_{"thrum-tiles"};
  std::string dir_ = tmp_.path();
};

TEST_F(TileService, ASecondRequestIsServedFromTheCache) {
  TileStack stack(dir_);
  auto c = stack.client();
  api::Tile first, second;
  c->getTile(first, req(2, 1, 1));
  EXPECT_EQ(first.source, api::Source::RENDERED);
  EXPECT_GT(first.render_ms, 0);
  EXPECT_TRUE(isTilePng(first.png));
  c->getTile(second, req(2, 1, 1));
  EXPECT_EQ(second.source, api::Source::CACHE);
  EXPECT_EQ(second.png, first.png);
  EXPECT_EQ(second.version, first.version);
  api::Stats s;
  c->stats(s);
  EXPECT_EQ(s.renders, 1);
  EXPECT_EQ(s.cache_hits, 1);
}

TEST_F(TileService, ABatchAnswersHitsAndRendersMissesInItsOrder) {
  TileStack stack(dir_);
  auto c = stack.client();
  api::Tile cached;
  c->getTile(cached, req(2, 1, 1));
  std::vector<api::TileResult> results;
  c->getTiles(results, {req(2, 1, 1), req(3, 4, 2), req(3, 5, 2)});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].tile.source, api::Source::CACHE);
  EXPECT_EQ(results[0].tile.png, cached.png);
  for (int i : {1, 2}) {
    ASSERT_TRUE(results[i].__isset.tile) << results[i].error;
    EXPECT_EQ(results[i].tile.source, api::Source::RENDERED);
    EXPECT_TRUE(isTilePng(results[i].tile.png));
  }
  api::Stats s;
  c->stats(s);
  EXPECT_EQ(s.requests, 4);
  EXPECT_EQ(s.cache_hits, 1);
  EXPECT_EQ(s.renders, 2) << "z2 once, and z3's metatile once for both its tiles";
}

TEST_F(TileService, SixteenConcurrentRequestsIntoOneMetatileRenderItOnce) {
  TileStack stack(dir_);
  std::vector<std::string> pngs(16);
  std::vector<std::thread> callers;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&, i] {
      auto c = stack.client();
      api::Tile t;
      c->getTile(t, req(5, 16 + i % 8, 8 + i / 8));  // all inside metatile 5/16/8
      pngs[i] = t.png;
    });
  }
  for (auto& t : callers) t.join();
  for (const auto& png : pngs) EXPECT_TRUE(isTilePng(png));
  api::Stats s;
  stack.client()->stats(s);
  EXPECT_EQ(s.renders, 1);
  EXPECT_EQ(s.requests, 16);
  EXPECT_EQ(s.coalesced + s.cache_hits, 15) << "each either joined the render or hit its result";
}

TEST_F(TileService, AnInteractiveRequestIsAnsweredBeforeAQueuedBulkBacklog) {
  TileStack stack(dir_);
  auto c = stack.client();
  std::vector<api::TileRequest> bulk;
  for (int i = 0; i < 40; ++i)
    bulk.push_back(req(6, (i % 8) * 8, (i / 8) * 8, api::Priority::BULK));
  EXPECT_EQ(c->enqueue(bulk), 40);
  api::Tile live;
  c->getTile(live, req(6, 33, 18));
  EXPECT_EQ(live.source, api::Source::RENDERED);
  api::Stats s;
  c->stats(s);
  // Bulk keeps to one render slot; the live request took the other.
  EXPECT_GE(s.queues.at(api::Priority::BULK).queued, 30) << "the backlog was still waiting";
}

TEST_F(TileService, AFullClassGetsTheOverloadedException) {
  Scheduler::Options o = TileStack::defaults();
  // A class of no room is full whatever the render threads do meanwhile
  // (with room, fast renders could empty it between two requests; the
  // counting itself is the scheduler's unit tests').
  o.capacity = {1024, 0, 65536, 65536};
  TileStack stack(dir_, o);
  auto c = stack.client();
  std::vector<api::TileRequest> prefetch{req(6, 8, 0, api::Priority::PREFETCH)};
  try {
    c->enqueue(prefetch);
    ADD_FAILURE() << "a prefetch job fitted in a class of no room";
  } catch (const api::Overloaded& e) {
    EXPECT_EQ(e.full_class, api::Priority::PREFETCH);
    EXPECT_GT(e.retry_after_ms, 0);
    EXPECT_NE(e.reason.find("the prefetch queue is full"), std::string::npos) << e.reason;
  }
  api::Tile live;
  c->getTile(live, req(3, 4, 2));  // other classes still admit
  EXPECT_TRUE(isTilePng(live.png));
}

TEST_F(TileService, ARestartKeepsTheCache) {
  std::string png;
  {
    TileStack first(dir_);
    api::Tile t;
    first.client()->getTile(t, req(3, 4, 2));
    png = t.png;
  }
  TileStack second(dir_);
  api::Tile again;
  second.client()->getTile(again, req(3, 4, 2));
  EXPECT_EQ(again.source, api::Source::CACHE);
  EXPECT_EQ(again.png, png);
}

TEST_F(TileService, ADirtyMarkIsKeptInTheFileServedFromAndClearedByARender) {
  const MetatileKey key{"world", {3, 0, 0}};
  api::Tile before;
  {
    TileStack first(dir_);
    first.client()->getTile(before, req(3, 4, 2));
  }
  // Marked while no server runs: the mark is in the file, not in a process.
  EXPECT_TRUE(TileCache(dir_).markDirty(key));
  EXPECT_TRUE(TileCache(dir_).dirty(key));
  EXPECT_FALSE(TileCache(dir_).markDirty({"world", {3, 8, 0}})) << "no file, nothing to mark";

  TileStack second(dir_);
  auto c = second.client();
  api::MetatileStatus status;
  c->status(status, "world", 3, 4, 2);
  EXPECT_TRUE(status.dirty);
  EXPECT_EQ(status.cached_at_ms, kDirtyMarkUnixS * 1000);
  api::Tile served;
  c->getTile(served, req(3, 4, 2));  // served at once, and its render queued
  EXPECT_EQ(served.source, api::Source::CACHE);
  EXPECT_EQ(served.png, before.png);
  ASSERT_TRUE(testing::waitFor([&] { return !second.cache().dirty(key); }));
  api::Stats stats;
  c->stats(stats);
  EXPECT_EQ(stats.renders, 1);
  api::Tile after;
  c->getTile(after, req(3, 4, 2));
  EXPECT_EQ(after.source, api::Source::CACHE);
  EXPECT_EQ(after.png, before.png) << "same style and data, same bytes";
  EXPECT_NE(after.version, before.version);

  // Over the wire: one metatile, then a whole zoom level (one cached metatile).
  EXPECT_EQ(c->markDirty({req(3, 4, 2), req(3, 5, 3)}), 1);
  ASSERT_TRUE(testing::waitFor([&] {
    c->stats(stats);
    return stats.renders == 2 && !second.cache().dirty(key);
  }));
  EXPECT_EQ(c->markRangeDirty("world", 3, 3, {}), 1);
  ASSERT_TRUE(testing::waitFor([&] {
    c->stats(stats);
    return stats.renders == 3 && !second.cache().dirty(key);
  }));
}

TEST_F(TileService, AFullDirtyQueueLosesNoMark) {
  Scheduler::Options o = TileStack::defaults();
  o.capacity = {1024, 4096, 0, 65536};  // no room for dirty work at all
  TileStack stack(dir_, o);
  auto c = stack.client();
  api::Tile before;
  c->getTile(before, req(2, 1, 1));
  EXPECT_EQ(c->markDirty({req(2, 1, 1)}), 1) << "marked, though not queued";
  api::Tile served;
  c->getTile(served, req(2, 1, 1));
  EXPECT_EQ(served.source, api::Source::CACHE);
  EXPECT_EQ(served.png, before.png);
  api::MetatileStatus status;
  c->status(status, "world", 2, 1, 1);
  EXPECT_TRUE(status.dirty) << "still marked for the next request";
  EXPECT_EQ(status.state, api::MetatileState::CACHED);
}

TEST_F(TileService, ACorruptMetaFileIsRenderedAgainNeverServed) {
  TileStack stack(dir_);
  auto c = stack.client();
  api::Tile t;
  c->getTile(t, req(3, 4, 2));
  std::string path = stack.cache().path({"world", {3, 0, 0}});
  fs::resize_file(path, 600);  // past the header, into the first tiles
  api::Tile again;
  c->getTile(again, req(3, 4, 2));
  EXPECT_EQ(again.source, api::Source::RENDERED);
  EXPECT_EQ(again.png, t.png);
  EXPECT_EQ(stack.cache().corrupt(), 1);
  api::Tile third;
  c->getTile(third, req(3, 4, 2));
  EXPECT_EQ(third.source, api::Source::CACHE) << "the new file replaced the bad one";
}

TEST_F(TileService, BadRequestsNameTheirReason) {
  TileStack stack(dir_);
  auto c = stack.client();
  api::Tile t;
  auto reason = [&](const api::TileRequest& r) {
    try {
      c->getTile(t, r);
    } catch (const api::InvalidRequest& e) {
      return e.reason;
    }
    return std::string("accepted");
  };
  api::TileRequest unknown = req(1, 0, 0);
  unknown.style = "wrld";
  EXPECT_EQ(reason(unknown), "unknown style 'wrld'");
  EXPECT_EQ(reason(req(13, 0, 0)), "z 13 is outside world's zoom range 0..12");
  EXPECT_EQ(reason(req(6, 64, 0)), "x 64 is outside 0..63 at z 6");
  api::TileRequest no_time = req(1, 0, 0);
  no_time.__set_deadline_ms(0);
  EXPECT_EQ(reason(no_time), "deadline_ms must be positive");
}

TEST_F(TileService, ARenderPastTheDeadlineFailsTheCallNotTheServer) {
  TileStack stack(dir_);
  auto c = stack.client();
  api::TileRequest hurried = req(4, 8, 4);
  hurried.__set_deadline_ms(1);
  api::Tile t;
  EXPECT_THROW(c->getTile(t, hurried), api::RenderFailed);
  c->getTile(t, req(4, 9, 5));  // the connection and the server go on
  EXPECT_TRUE(isTilePng(t.png));
}

TEST_F(TileService, ARenderPastItsTimeLimitIsKilledAndFailsWithTheReason) {
  TileStack stack(dir_, TileStack::defaults(), std::chrono::milliseconds(1));
  auto c = stack.client();
  api::Tile t;
  for (int attempt = 0; attempt < 2; ++attempt) {  // a failure is not cached
    try {
      c->getTile(t, req(2, 1, 1));
      ADD_FAILURE() << "rendered within 1 ms";
    } catch (const api::RenderFailed& e) {
      EXPECT_EQ(e.reason.rfind("render took longer than the limit of 1 ms; the render process was "
                               "killed by signal 9",
                               0),
                0u)
          << e.reason;
    }
  }
  api::MetatileStatus status;
  c->status(status, "world", 2, 1, 1);
  EXPECT_EQ(status.state, api::MetatileState::ABSENT);
}

}  // namespace
}  // namespace thrum::tile
