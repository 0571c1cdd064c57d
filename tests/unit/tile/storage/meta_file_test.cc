#include "services/tile/storage/meta_file.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace thrum::tile {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> someTiles(int n) {
  std::vector<std::string> tiles(kMetaEntries);
  for (int i = 0; i < n; ++i) tiles[i] = "tile-" + std::to_string(i) + std::string(i, 'x');
  return tiles;
}

class MetaFile : public ::testing::Test {
 protected:
  testing::TempDir tmp_{"thrum-meta"};
  std::string dir_ = tmp_.path();
};

TEST(MetaEncoding, HeaderLayoutIsRenderds) {
  std::string file = encodeMeta({6, 32, 16}, someTiles(64));
  ASSERT_GE(file.size(), kMetaHeaderBytes);
  EXPECT_EQ(file.substr(0, 4), "META");
  int32_t v[5];
  std::memcpy(v, file.data() + 4, sizeof(v));
  EXPECT_EQ(v[0], 64);  // count
  EXPECT_EQ(v[1], 32);  // x
  EXPECT_EQ(v[2], 16);  // y
  EXPECT_EQ(v[3], 6);   // z
  EXPECT_EQ(v[4], static_cast<int32_t>(kMetaHeaderBytes)) << "the first blob follows the index";
}

TEST(MetaEncoding, RoundTripsEveryTile) {
  auto tiles = someTiles(64);
  std::string file = encodeMeta({6, 32, 16}, tiles);
  std::vector<std::string_view> back;
  std::string error;
  ASSERT_TRUE(decodeMeta(file, {6, 32, 16}, back, error)) << error;
  for (int i = 0; i < 64; ++i) EXPECT_EQ(back[i], tiles[i]) << i;
}

TEST(MetaEncoding, SmallZoomsLeaveTheOtherEntriesEmpty) {
  std::vector<std::string> tiles(kMetaEntries);
  for (int x = 0; x < 2; ++x) {
    for (int y = 0; y < 2; ++y) tiles[metaIndex({1, x, y})] = "z1 " + std::to_string(x * 2 + y);
  }
  std::string file = encodeMeta({1, 0, 0}, tiles);
  std::vector<std::string_view> back;
  std::string error;
  ASSERT_TRUE(decodeMeta(file, {1, 0, 0}, back, error)) << error;
  EXPECT_EQ(back[metaIndex({1, 1, 0})], "z1 2");
  EXPECT_TRUE(back[2].empty());
}

TEST(MetaEncoding, RefusesWhatIsNotTheMetatileAskedFor) {
  std::string file = encodeMeta({6, 32, 16}, someTiles(64));
  std::vector<std::string_view> back;
  std::string error;
  EXPECT_FALSE(decodeMeta(file, {6, 40, 16}, back, error));
  EXPECT_EQ(error, "holds metatile 6/32/16, not the one asked for");
  std::string bad_magic = file;
  bad_magic[0] = 'X';
  EXPECT_FALSE(decodeMeta(bad_magic, {6, 32, 16}, back, error));
  EXPECT_EQ(error, "not a .meta file (magic is not META)");
  std::string bad_count = file;
  int32_t seven = 7;
  std::memcpy(bad_count.data() + 4, &seven, 4);
  EXPECT_FALSE(decodeMeta(bad_count, {6, 32, 16}, back, error));
  EXPECT_EQ(error, "count 7 is not 64");
  std::string bad_entry = file;
  int32_t huge = 1 << 30;
  std::memcpy(bad_entry.data() + 20 + 8 * 5 + 4, &huge, 4);  // entry 5's size
  EXPECT_FALSE(decodeMeta(bad_entry, {6, 32, 16}, back, error));
  EXPECT_NE(error.find("entry 5 (offset "), std::string::npos) << error;
}

TEST(MetaEncoding, EveryTruncationIsRefusedNeverTrusted) {
  std::string file = encodeMeta({6, 32, 16}, someTiles(64));
  std::vector<std::string_view> back;
  for (size_t n = 0; n < file.size(); ++n) {
    std::string error;
    EXPECT_FALSE(decodeMeta(std::string_view(file).substr(0, n), {6, 32, 16}, back, error)) << n;
    EXPECT_FALSE(error.empty());
  }
}

TEST_F(MetaFile, WrittenAtomicallyAndReadOneTileAtATime) {
  MetatileId m{6, 32, 16};
  auto tiles = someTiles(64);
  std::string path = metaPath(dir_, "world", m);
  std::string error;
  ASSERT_TRUE(writeFileAtomically(path, encodeMeta(m, tiles), error)) << error;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  auto tile = readTile(path, {6, 33, 22}, error);
  ASSERT_TRUE(tile) << error;
  EXPECT_EQ(*tile, tiles[metaIndex({6, 33, 22})]);
}

TEST_F(MetaFile, MissingTruncatedAndEmptyEntriesAreErrors) {
  std::string error;
  EXPECT_FALSE(readTile(dir_ + "/none.meta", {6, 33, 22}, error));
  EXPECT_EQ(error, "no such file");

  MetatileId m{6, 32, 16};
  std::string file = encodeMeta(m, someTiles(64));
  std::string path = dir_ + "/cut.meta";
  for (size_t n : {size_t{0}, size_t{3}, kMetaHeaderBytes - 1, kMetaHeaderBytes, file.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << file.substr(0, n);
    EXPECT_FALSE(readTile(path, {6, 39, 23}, error)) << n;  // the last entry
    EXPECT_FALSE(error.empty());
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << encodeMeta(m, someTiles(10));
  EXPECT_FALSE(readTile(path, {6, 39, 23}, error));
  EXPECT_EQ(error, "the tile's entry is empty");
}

}  // namespace
}  // namespace thrum::tile
