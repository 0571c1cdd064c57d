#include "services/tile/core/tile_math.h"

#include <gtest/gtest.h>

namespace thrum::tile {
namespace {

TEST(TileMath, MetatilesAreAlignedToEightAndSmallerBelowZoomThree) {
  EXPECT_EQ(metatileOf({6, 33, 22}), (MetatileId{6, 32, 16}));
  EXPECT_EQ(metatileOf({6, 39, 23}), (MetatileId{6, 32, 16}));
  EXPECT_EQ(metatileOf({6, 40, 23}), (MetatileId{6, 40, 16}));
  EXPECT_EQ(metatileOf({2, 3, 1}), (MetatileId{2, 0, 0}));
  EXPECT_EQ(metatileSpan(0), 1);
  EXPECT_EQ(metatileSpan(2), 4);
  EXPECT_EQ(metatileSpan(3), 8);
  EXPECT_EQ(metatileSpan(18), 8);
  EXPECT_EQ(metaIndex({6, 33, 22}), 1 * 8 + 6);
  EXPECT_EQ(metaIndex({6, 39, 16}), 7 * 8 + 0);
}

TEST(TileMath, ChecksTheRangeOfEveryCoordinate) {
  EXPECT_EQ(checkTile({0, 0, 0}), "");
  EXPECT_EQ(checkTile({6, 63, 63}), "");
  EXPECT_EQ(checkTile({6, 64, 0}), "x 64 is outside 0..63 at z 6");
  EXPECT_EQ(checkTile({6, 0, -1}), "y -1 is outside 0..63 at z 6");
  EXPECT_EQ(checkTile({25, 0, 0}), "z 25 is outside 0..24");
  EXPECT_EQ(checkTile({-1, 0, 0}), "z -1 is outside 0..24");
  EXPECT_EQ(checkTile({10, 0, 0}, 8), "z 10 is outside 0..8");
}

TEST(TileMath, BoundsCoverTheWorldAtZoomZero) {
  Bounds b = mercatorBounds({0, 0, 0});
  EXPECT_DOUBLE_EQ(b.min_x, -kWorldHalf);
  EXPECT_DOUBLE_EQ(b.max_x, kWorldHalf);
  EXPECT_DOUBLE_EQ(b.min_y, -kWorldHalf);
  EXPECT_DOUBLE_EQ(b.max_y, kWorldHalf);
  Bounds q = mercatorBounds({4, 8, 0});  // north-east quarter's north-west metatile
  EXPECT_DOUBLE_EQ(q.min_x, 0);
  EXPECT_DOUBLE_EQ(q.max_x, kWorldHalf);
  EXPECT_DOUBLE_EQ(q.max_y, kWorldHalf);
  EXPECT_DOUBLE_EQ(q.min_y, 0);
}

TEST(TileMath, RenderdDirectoryLayout) {
  EXPECT_EQ(metaPath("/c", "world", {6, 32, 16}), "/c/world/6/0/0/0/33/0.meta");
  EXPECT_EQ(metaPath("/c", "world", {0, 0, 0}), "/c/world/0/0/0/0/0/0.meta");
  // mx = 0x1238, my = 0x4568: h0 = 0x88, h1 = 0x36, h2 = 0x25, h3 = 0x14, h4 = 0
  EXPECT_EQ(metaPath("/c", "s", {18, 0x1238, 0x4568}), "/c/s/18/0/20/37/54/136.meta");
}

TEST(TileMath, TileAtKnownPlaces) {
  EXPECT_EQ(tileAt(0, 0, 1), (TileId{1, 1, 1}));
  EXPECT_EQ(tileAt(-0.1, 0.1, 1), (TileId{1, 0, 0}));
  EXPECT_EQ(tileAt(10.75, 59.91, 6), (TileId{6, 33, 18}));  // Oslo
  EXPECT_EQ(tileAt(180, -90, 3), (TileId{3, 7, 7}));        // clamped to the world
}

TEST(TileMath, MetatilesCoveringARangeOfTiles) {
  // z6: tiles 7..17 x 3..8 touch metatile columns 0, 8, 16 and rows 0, 8.
  auto ms = metatilesCovering({6, 7, 3}, {6, 17, 8});
  ASSERT_EQ(ms.size(), 6u);
  EXPECT_EQ(ms.front(), (MetatileId{6, 0, 0}));
  EXPECT_EQ(ms[1], (MetatileId{6, 0, 8}));
  EXPECT_EQ(ms.back(), (MetatileId{6, 16, 8}));
  EXPECT_EQ(metatileCount({6, 7, 3}, {6, 17, 8}), 6);
  // Below z3 the whole world is one metatile.
  EXPECT_EQ(metatilesCovering({1, 0, 0}, {1, 1, 1}), (std::vector<MetatileId>{{1, 0, 0}}));
  EXPECT_EQ(metatileCount({1, 0, 0}, {1, 1, 1}), 1);
  EXPECT_EQ(metatileCount({4, 3, 3}, {4, 3, 3}), 1);
}

}  // namespace
}  // namespace thrum::tile
