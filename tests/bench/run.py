#!/usr/bin/python3
"""Side-by-side benchmark: thrum-bench-server vs Thrift's TNonblockingServer.

Both servers run the same Bench handler with 2 I/O threads and 4 workers on
loopback. For each row, the same closed-loop load (thrum-loadgen) runs
against one server and then the other, alternating, so both see the same
machine state. Each row is repeated; the table shows medians.

Server CPU is read from /proc/PID/stat before and after each measured run
and reported per call: on a shared machine whose idle CPUs sleep it is the
steadiest figure.

A second table gives server RSS per idle connection (one call each, then
held open), for both servers.

usage: tests/bench/run.py [--build build/release] [--seconds 4] [--repeat 3] [--idle 1000,10000]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROWS = [
    # name, loadgen args
    ("ping, 1 conn", ["--call", "ping", "--connections", "1"]),
    ("ping, 16 conns", ["--call", "ping", "--connections", "16"]),
    ("ping, 256 conns", ["--call", "ping", "--connections", "256"]),
    ("ping, 1000 conns", ["--call", "ping", "--connections", "1000"]),
    ("echo 1 KiB, 16 conns", ["--call", "echo", "--size", "1024", "--connections", "16"]),
    ("echo 64 KiB, 16 conns", ["--call", "echo", "--size", "65536", "--connections", "16"]),
    ("work 100us, 16 conns", ["--call", "work", "--micros", "100", "--connections", "16"]),
    ("work 100us, 256 conns", ["--call", "work", "--micros", "100", "--connections", "256"]),
]

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def start(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        sys.exit(f"{cmd[0]} did not start: {line!r}")
    return proc, line.strip().rsplit(" ", 1)[1]


def run_row(loadgen, address, pid, args, seconds, threads):
    before = cpu_seconds(pid)
    out = subprocess.run(
        [loadgen, "--connect", address, "--seconds", str(seconds), "--warmup", "1",
         "--threads", str(threads), *args],
        check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - before
    result = json.loads(out)
    # CPU covers warmup too: scale calls by the same window.
    calls_total = result["calls"] * (seconds + 1) / seconds
    result["cpu_us_per_call"] = cpu * 1e6 / calls_total if calls_total else float("nan")
    return result


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle_row(loadgen, cmd, count, hold):
    """Server RSS per idle connection: N connections, one ping each, then idle."""
    proc, address = start(cmd)
    try:
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        gen = subprocess.Popen(
            [loadgen, "--connect", address, "--connections", str(count), "--call", "ping",
             "--idle", "--warmup", "0", "--seconds", str(hold), "--threads", "1"],
            stdout=subprocess.PIPE, text=True)
        time.sleep(hold * 0.7)  # all connected and answered by now; still held open
        during = rss_kib(proc.pid)
        result = json.loads(gen.communicate()[0])
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {"connected": result["calls"], "bytes_per_conn": (during - before) * 1024 / count}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="load generator threads")
    ap.add_argument("--rows", default="", help="substring filter on row names")
    ap.add_argument("--idle", default="1000,10000",
                    help="idle-connection counts for the memory table ('' to skip)")
    opts = ap.parse_args()

    b = opts.build
    servers = {
        "thrum": [f"{b}/services/bench/thrum-bench-server", "--listen", "127.0.0.1:0",
                  "--io-threads", "2", "--workers", "4", "--log-level", "warn"],
        "nonblocking": [f"{b}/tests/bench/thrum-bench-nb-server", "--port", "0",
                        "--io-threads", "2", "--workers", "4"],
    }
    loadgen = f"{b}/tests/bench/thrum-loadgen"
    rows = [r for r in ROWS if opts.rows in r[0]]
    results = {(name, s): [] for name, _ in rows for s in servers}

    for rep in range(opts.repeat):
        for name, args in rows:
            for server, cmd in servers.items():
                # A fresh server for every run: no state carries between rows.
                proc, address = start(cmd)
                try:
                    r = run_row(loadgen, address, proc.pid, args, opts.seconds, opts.threads)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                results[(name, server)].append(r)
                print(f"# run {rep + 1}/{opts.repeat} {name:24} {server:12} "
                      f"{r['calls_per_s']:9.0f}/s p50 {r['p50_us']}us p99 {r['p99_us']}us "
                      f"cpu {r['cpu_us_per_call']:.1f}us/call errors {r['errors']}",
                      file=sys.stderr, flush=True)

    def med(name, server, key):
        return statistics.median(r[key] for r in results[(name, server)])

    print(f"medians of {opts.repeat} runs, {opts.seconds:g} s each after 1 s warm-up; "
          f"loadgen threads: {opts.threads}; one call outstanding per connection")
    print()
    print("| row | thrum calls/s | TNonblocking calls/s | ratio | thrum p50 / p99 (us) "
          "| TNonblocking p50 / p99 (us) | thrum CPU us/call | TNonblocking CPU us/call |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _ in rows:
        t_rate, n_rate = med(name, "thrum", "calls_per_s"), med(name, "nonblocking", "calls_per_s")
        print(f"| {name} | {t_rate:,.0f} | {n_rate:,.0f} | {t_rate / n_rate:.2f}x "
              f"| {med(name, 'thrum', 'p50_us'):.0f} / {med(name, 'thrum', 'p99_us'):.0f} "
              f"| {med(name, 'nonblocking', 'p50_us'):.0f} / "
              f"{med(name, 'nonblocking', 'p99_us'):.0f} "
              f"| {med(name, 'thrum', 'cpu_us_per_call'):.1f} "
              f"| {med(name, 'nonblocking', 'cpu_us_per_call'):.1f} |")
    errors = sum(r["errors"] + r["connect_errors"] for rs in results.values() for r in rs)
    print()
    print(f"errors across all runs: {errors}")

    counts = [int(c) for c in opts.idle.split(",") if c]
    if counts:
        print()
        print("Server RSS per idle plain connection (one ping each, then held open; "
              f"median of {opts.repeat} runs):")
        print()
        print("| idle connections | thrum bytes/conn | TNonblocking bytes/conn | ratio |")
        print("|---:|---:|---:|---:|")
        for count in counts:
            per = {}
            for server, cmd in servers.items():
                runs = [idle_row(loadgen, cmd, count, 4) for _ in range(opts.repeat)]
                if any(r["connected"] != count for r in runs):
                    print(f"# {server}: not every connection was answered: "
                          f"{[r['connected'] for r in runs]}", file=sys.stderr)
                per[server] = statistics.median(r["bytes_per_conn"] for r in runs)
            print(f"| {count:,} | {per['thrum']:,.0f} | {per['nonblocking']:,.0f} "
                  f"| {per['thrum'] / per['nonblocking']:.2f}x |")


if __name__ == "__main__":
    main()
