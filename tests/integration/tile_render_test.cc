// The renderer with real Mapnik, thrum's style and the world data that
// deploy/prepare-data.sh makes: tiles of z0-3 decode as 256 x 256 PNGs with
// land and water where the world has them.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "services/tile/render/renderer.h"

#include <mapnik/image.hpp>
#include <mapnik/image_any.hpp>
#include <mapnik/image_reader.hpp>
#include <mapnik/image_util.hpp>
#include <mapnik/util/variant.hpp>

namespace thrum::tile {
namespace {

const std::string kData = THRUM_TILE_DATA "/shp";
const std::string kStyle = THRUM_SOURCE_DIR "/services/tile/style/world.xml";

struct Rgb {
  int r, g, b;
};
constexpr Rgb kLand{0xf2, 0xef, 0xe9};
constexpr Rgb kWater{0xaa, 0xd3, 0xdf};

mapnik::image_rgba8 decode(const std::string& png) {
  std::unique_ptr<mapnik::image_reader> reader(mapnik::get_image_reader(png.data(), png.size()));
  if (!reader) throw std::runtime_error("not an image");
  mapnik::image_any any = reader->read(0, 0, reader->width(), reader->height());
  return mapnik::util::get<mapnik::image_rgba8>(any);
}

bool near(uint32_t pixel, Rgb want) {
  int r = pixel & 0xff, g = (pixel >> 8) & 0xff, b = (pixel >> 16) & 0xff;
  return std::abs(r - want.r) <= 10 && std::abs(g - want.g) <= 10 && std::abs(b - want.b) <= 10;
}

// The tile and the pixel in it that show a WGS84 point at zoom z.
struct Spot {
  TileId tile;
  int px, py;
};
Spot spotOf(double lon, double lat, int z) {
  double n = std::ldexp(1.0, z) * kTileSize;
  double x = (lon + 180.0) / 360.0 * n;
  double lat_rad = lat * std::numbers::pi / 180.0;
  double y = (1.0 - std::asinh(std::tan(lat_rad)) / std::numbers::pi) / 2.0 * n;
  TileId t{z, static_cast<int>(x) / kTileSize, static_cast<int>(y) / kTileSize};
  return {t, static_cast<int>(x) % kTileSize, static_cast<int>(y) % kTileSize};
}

class TileRender : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kData + "/countries.shp"))
        << "no world data in " << kData << ": run deploy/prepare-data.sh";
    std::string error;
    ASSERT_TRUE(Renderer::initMapnik(error)) << error;
  }

  std::vector<std::string> render(const MetatileId& m) {
    std::string error;
    Renderer r({{"world", kStyle, kData}}, &encoder_, error);
    EXPECT_EQ(error, "");
    std::vector<std::string> pngs;
    EXPECT_TRUE(r.render("world", m, pngs, error)) << error;
    return pngs;
  }

  io::TaskPool encoder_{2, 64, "test-encode"};
  void SetUp() override { encoder_.start(); }
};

TEST_F(TileRender, ZoomZeroToThreeShowLandAndWaterWhereTheyAre) {
  struct Place {
    const char* name;
    double lon, lat;
    Rgb colour;
  } places[] = {
      {"Pacific", -140, 0, kWater},       {"South Atlantic", -20, -30, kWater},
      {"Arabian Sea", 65, 15, kWater},    {"Western Australia", 125, -25, kLand},
      {"western Brazil", -65, -5, kLand}, {"Siberia", 95, 62, kLand},
  };
  for (int z = 0; z <= 3; ++z) {
    for (const auto& p : places) {
      Spot s = spotOf(p.lon, p.lat, z);
      std::vector<std::string> pngs = render(metatileOf(s.tile));
      const std::string& png = pngs[metaIndex(s.tile)];
      ASSERT_FALSE(png.empty()) << p.name << " z" << z;
      ASSERT_EQ(png.substr(1, 3), "PNG");
      mapnik::image_rgba8 image = decode(png);
      ASSERT_EQ(image.width(), 256u);
      ASSERT_EQ(image.height(), 256u);
      uint32_t pixel = image(s.px, s.py);
      EXPECT_TRUE(near(pixel, p.colour))
          << p.name << " at z" << z << " tile " << s.tile.x << "/" << s.tile.y << " pixel " << s.px
          << "," << s.py << " is #" << std::hex << (pixel & 0xffffff);
    }
  }
}

TEST_F(TileRender, AMetatileHasEveryTileItCoversAndNoOther) {
  auto z1 = render({1, 0, 0});
  int present = 0;
  for (const auto& png : z1) present += png.empty() ? 0 : 1;
  EXPECT_EQ(present, 4);
  auto z4 = render({4, 8, 0});
  for (const auto& png : z4) EXPECT_FALSE(png.empty());
}

TEST_F(TileRender, RenderingIsDeterministic) {
  // What makes the tiles byte-identical to another renderer's with the same
  // libmapnik, style and data.
  EXPECT_EQ(render({3, 0, 0}), render({3, 0, 0}));
}

TEST_F(TileRender, OneColourTilesAreTheBytesAFreshEncodingGives) {
  // Tile 3/0/0 is open Arctic sea: one colour, served from the renderer's
  // memo of uniform tiles after the first. It must be what png256 makes of
  // such an image, byte for byte (the tiles stay identical to renderd's).
  auto first = render({3, 0, 0});
  auto again = render({3, 0, 0});
  const std::string& png = again[metaIndex({3, 0, 0})];
  mapnik::image_rgba8 decoded = decode(png);
  uint32_t colour = decoded(0, 0);
  mapnik::image_rgba8 plain(256, 256);
  for (unsigned y = 0; y < 256; ++y) {
    for (unsigned x = 0; x < 256; ++x) plain(x, y) = colour;
  }
  EXPECT_TRUE(near(colour, kWater));
  EXPECT_EQ(png, mapnik::save_to_string(plain, "png256"));
  EXPECT_EQ(first, again);
}

TEST_F(TileRender, StyleErrorsNameTheStyleAndFile) {
  std::string error;
  Renderer missing({{"world", "/nonexistent/world.xml", kData}}, nullptr, error);
  EXPECT_EQ(error, "style world: cannot read /nonexistent/world.xml");
  Renderer no_data({{"world", kStyle, "/nonexistent"}}, nullptr, error);
  EXPECT_NE(error.find("style world (" + kStyle + "): "), std::string::npos) << error;
}

}  // namespace
}  // namespace thrum::tile
