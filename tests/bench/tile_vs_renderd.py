#!/usr/bin/python3
"""thrum-tile-server next to Debian's renderd, same style, data and machine.

Both render thrum's world style (services/tile/style/world.xml, with its
shapefile paths made absolute) from the data of deploy/prepare-data.sh,
8x8 metatiles of 256 px, two render threads each (thrum adds its one
reserved thread for live work, idle during bulk). Everything lives in a
temporary directory; renderd runs in the foreground (renderd -f) and both
servers are ended by PID. Rows:

  cold bulk z0-ZMAX      render_list -a -n 2 against thrum-tile seed: wall
                         time, tiles/s, server CPU seconds per metatile
  identical tiles        both caches compared byte for byte, tile by tile
  uncached latency       one metatile at a time on an idle server, z8-z11,
                         median of 3 (renderd through its socket, RenderPrio)
  coalescing             16 concurrent requests into one uncached metatile:
                         renders counted
  live on an idle server p50/p99 of 20 uncached z11 requests, one at a time
  live under backlog     the same while >= 500 z8-9 metatiles of bulk work are
                         queued (renderd is ended before thrum's turn, so its
                         backlog does not share the CPUs with thrum's)
  cache hits             getTile over Thrift, 64 connections, 5 s, idle server
                         (thrum only: renderd does not serve tiles; mod_tile does)

usage: tests/bench/tile_vs_renderd.py [--build build/release] [--max-zoom 7]
                                      [--server-arg=--background-nice=0 ...]
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    """CPU time of a server and its children (thrum's render processes):
    its own, its reaped children's, and its live children's."""
    fields = stat_fields(pid)
    ticks = sum(int(v) for v in fields[11:15])
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            child = stat_fields(entry)
        except OSError:
            continue
        if int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / TICKS


def meta_tiles(path):
    with open(path, "rb") as f:
        d = f.read()
    count, x, y, z = struct.unpack("<4i", d[4:20])
    out = []
    for i in range(count):
        off, size = struct.unpack("<2i", d[20 + 8 * i:28 + 8 * i])
        out.append(d[off:off + size])
    return (z, x, y), out


# renderd's protocol, version 2: {int ver, cmd, x, y, z; char xmlname[41]}, 64 bytes.
CMD_RENDER, CMD_DONE, CMD_RENDER_PRIO, CMD_RENDER_BULK = 1, 3, 5, 6


def renderd_request(sock_path, cmd, z, x, y, wait=True, sock=None):
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(sock_path)
    sock.sendall(struct.pack("<5i41s3x", 2, cmd, x, y, z, b"world"))
    if wait:
        reply = b""
        while len(reply) < 64:
            chunk = sock.recv(64 - len(reply))
            if not chunk:
                break
            reply += chunk
        if own:
            sock.close()
        return struct.unpack("<5i", reply[:20])[1] if len(reply) >= 20 else -1
    return None


def renderd_rendered(stats_path):
    total = 0
    with open(stats_path) as f:
        for line in f:
            m = re.match(r"ZoomRendered\d+: (\d+)", line)
            if m:
                total += int(m.group(1))
    return total


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def tiles_file(tmp, name, tiles):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        for z, x, y in tiles:
            f.write(f"world {z} {x} {y}\n")
    return path


def metatiles_upto(max_zoom):
    return sum(max(1, (2 ** z // 8)) ** 2 for z in range(max_zoom + 1))


def tile_count(max_zoom):
    return sum(4 ** z for z in range(max_zoom + 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--max-zoom", type=int, default=7)
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra thrum-tile-server argument (repeatable)")
    args = ap.parse_args()
    if shutil.which("renderd") is None or shutil.which("render_list") is None:
        sys.exit("needs Debian's renderd: apt-get install renderd (then, on a machine with "
                 "systemd, systemctl disable --now renderd; this script runs its own)")
    data = os.path.join(ROOT, "build", "tile-data", "shp")
    if not os.path.exists(os.path.join(data, "countries.shp")):
        sys.exit("no world data: run deploy/prepare-data.sh")
    server_bin = os.path.join(args.build, "services", "tile", "thrum-tile-server")
    tool = os.path.join(args.build, "services", "tile", "thrum-tile")
    load = os.path.join(args.build, "tests", "bench", "thrum-tile-load")
    tmp = tempfile.mkdtemp(prefix="thrum-tile-bench-")
    procs = []
    rows = []
    try:
        with open(os.path.join(ROOT, "services", "tile", "style", "world.xml")) as f:
            style = re.sub(r'<Parameter name="file">([a-z_]+\.shp)</Parameter>',
                           lambda m: f'<Parameter name="file">{data}/{m.group(1)}</Parameter>',
                           f.read())
        with open(os.path.join(tmp, "world.xml"), "w") as f:
            f.write(style)
        rd_tiles, th_tiles = os.path.join(tmp, "renderd-tiles"), os.path.join(tmp, "thrum-tiles")
        os.makedirs(rd_tiles)
        sock_path = os.path.join(tmp, "renderd.sock")
        stats_path = os.path.join(tmp, "renderd.stats")
        with open(os.path.join(tmp, "renderd.conf"), "w") as f:
            f.write(f"""[renderd]
socketname={sock_path}
num_threads=2
tile_dir={rd_tiles}
stats_file={stats_path}

[mapnik]
plugins_dir=/usr/lib/mapnik/3.1/input
font_dir=/usr/share/fonts/truetype/dejavu
font_dir_recurse=true

[world]
URI=/world/
TILEDIR={rd_tiles}
XML={tmp}/world.xml
HOST=localhost
TILESIZE=256
MAXZOOM=18
""")
        renderd = subprocess.Popen(["renderd", "-f", "-c", os.path.join(tmp, "renderd.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(renderd)
        thrum = subprocess.Popen(
            [server_bin, "--listen", "127.0.0.1:0", "--tile-dir", th_tiles, "--data-dir", data,
             "--style", f"world={tmp}/world.xml", "--render-threads", "2", "--max-zoom", "18",
             "--log-level", "warn", "--queue-bulk", "100000"] + args.server_arg,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(thrum)
        address = thrum.stdout.readline().strip().split("listening on ")[1]
        for _ in range(200):
            if os.path.exists(sock_path):
                break
            time.sleep(0.05)
        time.sleep(0.5)  # renderd loads the style in each thread

        # Cold bulk.
        zmax = args.max_zoom
        n_meta = metatiles_upto(zmax)
        c0, t0 = cpu_seconds(renderd.pid), time.time()
        subprocess.run(["render_list", "-a", "-z", "0", "-Z", str(zmax), "-n", "2", "-s", sock_path,
                        "-m", "world", "-t", rd_tiles], capture_output=True, check=True)
        rd_wall, rd_cpu = time.time() - t0, cpu_seconds(renderd.pid) - c0
        c0, t0 = cpu_seconds(thrum.pid), time.time()
        subprocess.run([tool, "--connect", address, "seed", "world", "--zoom", f"0-{zmax}"],
                       capture_output=True, check=True)
        th_wall, th_cpu = time.time() - t0, cpu_seconds(thrum.pid) - c0
        tiles = tile_count(zmax)
        rows.append((f"cold bulk z0-{zmax}: wall s ({n_meta} metatiles)", rd_wall, th_wall))
        rows.append(("cold bulk: tiles/s", tiles / rd_wall, tiles / th_wall))
        rows.append(("cold bulk: server CPU ms per metatile", 1000 * rd_cpu / n_meta,
                     1000 * th_cpu / n_meta))

        # Identical tiles.
        same = differ = missing = 0
        for dirpath, _, files in os.walk(os.path.join(rd_tiles, "world")):
            for name in files:
                if not name.endswith(".meta"):
                    continue
                a = os.path.join(dirpath, name)
                b = os.path.join(th_tiles, os.path.relpath(a, rd_tiles))
                if not os.path.exists(b):
                    missing += 1
                    continue
                for ta, tb in zip(meta_tiles(a)[1], meta_tiles(b)[1]):
                    same += ta == tb
                    differ += ta != tb
        identical = f"{same} identical, {differ} different, {missing} metatiles missing"

        # Cache hits over Thrift, on idle servers (before any backlog).
        hit_tiles = [(zz, x, y) for zz in range(0, min(zmax, 5) + 1) for x in range(2 ** zz)
                     for y in range(2 ** zz)]
        out = subprocess.run([load, "--connect", address, "hits", "--tiles",
                              tiles_file(tmp, "hits", hit_tiles), "--connections", "64",
                              "--seconds", "5"], capture_output=True, text=True, check=True)
        hits = json.loads(out.stdout)

        # Uncached latency on an idle server, z8-11, three metatiles each.
        random.seed(7)
        lat_rows = []
        for z in range(8, 12):
            n = 2 ** z
            picks = [(z, (random.randrange(n) & ~7), (random.randrange(n // 4, 3 * n // 4) & ~7))
                     for _ in range(3)]
            rd_ms = []
            for (zz, x, y) in picks:
                t = time.time()
                renderd_request(sock_path, CMD_RENDER_PRIO, zz, x, y)
                rd_ms.append(1000 * (time.time() - t))
            out = subprocess.run([load, "--connect", address, "latency", "--tiles",
                                  tiles_file(tmp, f"lat{z}", picks)],
                                 capture_output=True, text=True, check=True)
            th_ms = json.loads(out.stdout)["ms"]
            lat_rows.append((f"uncached metatile z{z}: ms (median of 3)", statistics.median(rd_ms),
                             statistics.median(th_ms)))
        rows.extend(lat_rows)

        # Coalescing: 16 concurrent requests into one uncached z12 metatile.
        z, mx, my = 12, 2136, 1240
        burst = [(z, mx + i % 8, my + i // 8) for i in range(16)]
        time.sleep(11)
        before = renderd_rendered(stats_path)
        threads = [threading.Thread(target=renderd_request,
                                    args=(sock_path, CMD_RENDER_PRIO, zz, x, y)) for zz, x, y in burst]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(11)  # renderd writes its stats file every 10 s
        rd_renders = renderd_rendered(stats_path) - before
        stats_before = subprocess.run([tool, "--connect", address, "stats"], capture_output=True,
                                      text=True).stdout
        subprocess.run([load, "--connect", address, "burst", "--tiles",
                        tiles_file(tmp, "burst", [(z, mx + 8 + i % 8, my + i // 8) for i in range(16)])],
                       capture_output=True, check=True)
        stats_after = subprocess.run([tool, "--connect", address, "stats"], capture_output=True,
                                     text=True).stdout
        renders = lambda s: int(re.search(r"renders (\d+)", s).group(1))
        rows.append(("coalescing: renders for 16 requests in one metatile", rd_renders,
                     renders(stats_after) - renders(stats_before)))

        # Live requests: 20 uncached z11 metatiles one after another, first
        # on idle servers (what one metatile render takes), then under a
        # bulk backlog of >= 500 metatiles (z8-9).
        def live_tiles():
            return [(11, (random.randrange(2048) & ~7), (random.randrange(512, 1536) & ~7))
                    for _ in range(20)]

        def renderd_live(tiles):
            out = []
            for zz, x, y in tiles:
                t = time.time()
                renderd_request(sock_path, CMD_RENDER_PRIO, zz, x, y)
                out.append(1000 * (time.time() - t))
            return out

        def thrum_live(name, tiles):
            done = subprocess.run(
                [load, "--connect", address, "latency", "--tiles",
                 tiles_file(tmp, name, [(zz, x + 4, y + 4) for zz, x, y in tiles])],
                capture_output=True, text=True)
            return json.loads(done.stdout)["ms"] if done.returncode == 0 else [float("nan")]

        idle_live = live_tiles()
        rd_idle, th_idle = renderd_live(idle_live), thrum_live("idle-live", idle_live)
        rows.append(("live on an idle server: p50 ms", percentile(rd_idle, 50),
                     percentile(th_idle, 50)))
        rows.append(("live on an idle server: p99 ms", percentile(rd_idle, 99),
                     percentile(th_idle, 99)))
        backlog = [(zz, x, y) for zz in (8, 9) for x in range(0, 2 ** zz, 8)
                   for y in range(0, 2 ** zz, 8)][:700]
        live = live_tiles()
        bulk_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bulk_sock.connect(sock_path)

        def drain():  # renderd answers every request; unread answers would stall it
            while bulk_sock.recv(65536):
                pass

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        for zz, x, y in backlog:
            renderd_request(sock_path, CMD_RENDER_BULK, zz, x, y, wait=False, sock=bulk_sock)
        time.sleep(0.2)
        rd_live = renderd_live(live)
        bulk_sock.shutdown(socket.SHUT_RDWR)
        bulk_sock.close()
        # renderd's backlog would go on rendering beside thrum's: end it.
        renderd.send_signal(signal.SIGTERM)
        try:
            renderd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            renderd.kill()
            renderd.wait()
        queued = subprocess.run([load, "--connect", address, "enqueue", "--tiles",
                                 tiles_file(tmp, "backlog", backlog)],
                                capture_output=True, text=True, check=True)
        assert json.loads(queued.stdout)["jobs"] >= 500, queued.stdout
        time.sleep(0.2)
        th_live = thrum_live("live", live)
        rows.append(("live under backlog: p50 ms", percentile(rd_live, 50), percentile(th_live, 50)))
        rows.append(("live under backlog: p99 ms", percentile(rd_live, 99), percentile(th_live, 99)))

        print(f"{'':58} {'renderd':>10} {'thrum':>10} {'thrum/renderd':>14}")
        for name, rd, th in rows:
            ratio = th / rd if rd else float("nan")
            print(f"{name:58} {rd:10.1f} {th:10.1f} {ratio:14.2f}")
        print(f"identical tiles: {identical}")
        print(f"cache hits, 64 connections: {hits['calls'] / hits['seconds']:.0f} tiles/s, "
              f"p50 {hits['p50_us']:.0f} us, p99 {hits['p99_us']:.0f} us")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
