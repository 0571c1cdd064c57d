#!/usr/bin/env bash
# The Bench demo: installs what is missing, builds, starts thrum-bench-server on
# loopback and makes a few calls to it with the stock Thrift C++ client in all
# four stacks. Then it keeps serving until Ctrl-C (or exits at once with --once).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh build/release >/dev/null
bin=build/release/services/bench

once=0
[ "${1:-}" = "--once" ] && once=1

out=$(mktemp)
"$bin/thrum-bench-server" --listen 127.0.0.1:0 >"$out" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q "^listening on" "$out" && break
  sleep 0.05
done
address=$(sed -n 's/^listening on //p' "$out" | head -1)
[ -n "$address" ] || { echo "server did not start" >&2; exit 1; }
echo "thrum-bench-server is listening on $address"

for transport in framed buffered; do
  for protocol in binary compact; do
    "$bin/thrum-bench-call" --connect "$address" --transport "$transport" \
      --protocol "$protocol" ping echo:hello work:100 fire:x
  done
done

if [ "$once" = 1 ]; then exit 0; fi
echo "serving on $address; try: $bin/thrum-bench-call --connect $address ping. Ctrl-C stops."
wait $server
