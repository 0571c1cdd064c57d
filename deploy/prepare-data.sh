#!/usr/bin/env bash
# Prepares the world data the tile service renders, from Debian packages
# alone (no other network): Natural Earth countries, admin-1 boundaries and
# disputed borders (qgis-common's world_map.gpkg), populated places
# (python3-geopandas' naturalearth_cities) and ocean polygons
# (tirex-example-map). The packages are downloaded and unpacked, never
# installed. Each layer is clipped to Web Mercator's latitude range,
# reprojected to EPSG:3857, written as a shapefile and indexed with
# Mapnik's shapeindex.
#
#   deploy/prepare-data.sh [DATA_DIR]     (default build/tile-data)
#
# Idempotent: a stamp file names the package versions the data came from;
# with the same versions it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-build/tile-data}"
mkdir -p "$data/debs" "$data/src" "$data/shp"
data="$(cd "$data" && pwd)"

packages=(qgis-common python3-geopandas tirex-example-map)
versions="$(for p in "${packages[@]}"; do
  echo "$p $(apt-cache policy "$p" | sed -n 's/ *Candidate: //p')"
done)"
if [ -f "$data/shp/STAMP" ] && [ "$(cat "$data/shp/STAMP")" = "$versions" ]; then
  echo "prepare-data: $data/shp is up to date"
  exit 0
fi

echo "prepare-data: downloading ${packages[*]}"
# (apt warns, harmlessly, that root downloads unsandboxed: keep its words
# for a failure only.)
if ! (cd "$data/debs" && rm -f ./*.deb && apt-get download "${packages[@]}" >apt.log 2>&1); then
  cat "$data/debs/apt.log" >&2
  exit 1
fi
rm -rf "$data/src" && mkdir -p "$data/src"
for deb in "$data"/debs/*.deb; do dpkg -x "$deb" "$data/src"; done

gpkg="$data/src/usr/share/qgis/resources/data/world_map.gpkg"
cities="$(find "$data/src" -name naturalearth_cities.shp | head -1)"
ocean="$data/src/usr/share/tirex/example-map/ocean.gpkg"
for f in "$gpkg" "$cities" "$ocean"; do
  [ -f "$f" ] || { echo "prepare-data: $f missing from the packages" >&2; exit 1; }
done

# Mercator cannot show the poles: clip at +-85.05112878 first (Antarctica
# reaches -89.9), then reproject.
convert() {  # convert NAME SOURCE [LAYER]
  local out="$data/shp/$1.shp"
  rm -f "$data/shp/$1".*
  ogr2ogr -f "ESRI Shapefile" -t_srs EPSG:3857 -clipsrc -180 -85.05112878 180 85.05112878 \
    -lco ENCODING=UTF-8 -nln "$1" "$out" "$2" ${3:+"$3"}
  shapeindex "$out" >/dev/null 2>&1
}
convert countries "$gpkg" countries
convert states_provinces "$gpkg" states_provinces
convert disputed_borders "$gpkg" disputed_borders
convert cities "$cities"
convert ocean "$ocean" ocean
printf '%s' "$versions" >"$data/shp/STAMP"
echo "prepare-data: shapefiles in $data/shp"
