#!/usr/bin/env bash
# The main job: installs what is missing, builds, prepares the world data
# from Debian packages, starts the tile server on loopback (a free port,
# the cache in build/tile-cache) and renders a few real map tiles to PNG
# files with the thrum-tile tool, printing where they are. Then it keeps
# serving until Ctrl-C (or exits at once with --once).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh build/release >/dev/null
deploy/prepare-data.sh build/tile-data
bin=build/release/services/tile

once=0
[ "${1:-}" = "--once" ] && once=1

out=$(mktemp)
"$bin/thrum-tile-server" --listen 127.0.0.1:0 --tile-dir build/tile-cache \
  --data-dir build/tile-data/shp --style world=services/tile/style/world.xml >"$out" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 200); do
  grep -q "^listening on" "$out" && break
  kill -0 $server 2>/dev/null || { echo "thrum-tile-server did not start" >&2; exit 1; }
  sleep 0.05
done
address=$(sed -n 's/^listening on //p' "$out" | head -1)
[ -n "$address" ] || { echo "thrum-tile-server did not start" >&2; exit 1; }
echo "thrum-tile-server is listening on $address"

mkdir -p build/tiles
# The world; Europe at z3; Oslo at z6; the Nile delta at z7.
for tile in world/0/0/0 world/3/4/2 world/6/33/18 world/7/75/52; do
  "$bin/thrum-tile" --connect "$address" get "$tile" -o "build/tiles/${tile//\//-}.png"
done
echo "tiles written to $(pwd)/build/tiles"

if [ "$once" = 1 ]; then exit 0; fi
echo "serving on $address; try: $bin/thrum-tile --connect $address get world/5/16/9 -o t.png. Ctrl-C stops."
wait $server
