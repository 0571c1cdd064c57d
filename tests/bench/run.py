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
held open), for both servers. Then, with thrum-conngen:
  - RSS per idle TLS 1.3 + SASL PLAIN connection (thrum only: the stock
    TNonblockingServer has neither);
  - connections set up and torn down per second: plain (both servers), TLS,
    SASL, TLS + SASL (thrum), with server CPU per connection;
  - overload: work(1 ms) calls offered open-loop at 3x the capacity measured
    just before, to thrum (as configured by default, and with a 50 ms queue
    timeout) and to TNonblockingServer: accepted calls/s and their latency,
    rejections/s, and calls never answered within the run.

usage: tests/bench/run.py [--build build/release] [--seconds 4] [--repeat 3] [--idle 1000,10000]
                          [--sections calls,idle,tls-idle,churn,overload]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def check_held(held, count):
    """RSS per idle connection means nothing unless they were all still open."""
    if held < count:
        sys.exit(f"only {held} descriptors open in the server while {count} connections "
                 "should have been held")


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
        held = open_fds(proc.pid)
        result = json.loads(gen.communicate()[0])
    finally:
        stop_server(proc)
    check_held(held, count)
    return {"connected": result["calls"], "bytes_per_conn": (during - before) * 1024 / count}


def make_credentials(tmp):
    """A self-signed certificate and a sasldb holding alice/secret."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{tmp}/key.pem", "-out",
                    f"{tmp}/cert.pem", "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    subprocess.run(["saslpasswd2", "-f", f"{tmp}/sasldb", "-u", "THRUM.TEST", "-a", "thrum", "-p",
                    "-c", "alice"], input=b"secret", check=True)
    tls = f"tls:tcp:port=0:interface=127.0.0.1:cert={tmp}/cert.pem:key={tmp}/key.pem"
    sasl = f"sasl=required:mechs=PLAIN:sasldb={tmp}/sasldb:realm=THRUM.TEST"
    return {
        "plain": "tcp:port=0:interface=127.0.0.1",
        "tls": tls,
        "sasl": f"tcp:port=0:interface=127.0.0.1:{sasl}",
        "tls+sasl": f"{tls}:{sasl}",
    }


def conngen_flags(kind):
    flags = []
    if "tls" in kind:
        flags.append("--tls")
    if "sasl" in kind:
        flags += ["--sasl-user", "alice", "--sasl-password", "secret"]
    return flags


def conngen_idle_row(conngen, cmd, count, flags, hold=3):
    """Server RSS per idle connection, set up by thrum-conngen (TLS, SASL)."""
    proc, address = start(cmd)
    try:
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        gen = subprocess.Popen([conngen, "--connect", address, "--mode", "idle", "--connections",
                                str(count), "--seconds", str(hold), *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        up = gen.stderr.readline()  # "up N connections in S s": all set up, now idle
        time.sleep(hold / 2)
        during = rss_kib(proc.pid)
        held = open_fds(proc.pid)
        result = json.loads(gen.communicate()[0])
    finally:
        stop_server(proc)
    if not up.startswith("up "):
        sys.exit(f"thrum-conngen: {up}")
    check_held(held, count)
    return {"connected": result["connected"], "setup_s": result["setup_s"],
            "called_again": result["called_again"],
            "bytes_per_conn": (during - before) * 1024 / count}


def conngen_run(conngen, cmd, args, seconds):
    """One thrum-conngen run against a fresh server, with server CPU."""
    proc, address = start(cmd)
    try:
        before = cpu_seconds(proc.pid)
        out = subprocess.run([conngen, "--connect", address, "--seconds", str(seconds),
                              "--warmup", "1", *args],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        result["cpu_s"] = cpu_seconds(proc.pid) - before
    finally:
        stop_server(proc)
    return result


def tls_sasl_sections(opts, b, servers, sections):
    conngen = f"{b}/tests/bench/thrum-conngen"
    tmp = tempfile.mkdtemp(prefix="thrum-bench-")
    try:
        specs = make_credentials(tmp)

        def thrum_on(kind, *extra):
            return [f"{b}/services/bench/thrum-bench-server", "--listen", specs[kind],
                    "--io-threads", "2", "--workers", "4", "--log-level", "warn", *extra]

        counts = [int(c) for c in opts.idle.split(",") if c]
        if "tls-idle" in sections and counts:
            print()
            print("Server RSS per idle TLS 1.3 + SASL PLAIN connection (one ping each, then "
                  f"held open; median of {opts.repeat} runs; thrum only):")
            print()
            print("| idle connections | thrum bytes/conn | set-up time (s) "
                  "| then all called again: answered |")
            print("|---:|---:|---:|---:|")
            for count in counts:
                runs = [conngen_idle_row(conngen, thrum_on("tls+sasl"), count,
                                         conngen_flags("tls+sasl")) for _ in range(opts.repeat)]
                for r in runs:
                    print(f"# tls+sasl idle {count}: {r}", file=sys.stderr, flush=True)
                if any(r["connected"] != count for r in runs):
                    print(f"# not every connection came up: {[r['connected'] for r in runs]}",
                          file=sys.stderr)
                print(f"| {count:,} | {statistics.median(r['bytes_per_conn'] for r in runs):,.0f} "
                      f"| {statistics.median(r['setup_s'] for r in runs):.2f} "
                      f"| {min(r['called_again'] for r in runs):,} of {count:,} |")

        if "churn" in sections:
            rows = [("plain", servers["nonblocking"], "TNonblocking")]
            rows += [(kind, thrum_on(kind), "thrum") for kind in ("plain", "tls", "sasl", "tls+sasl")]
            results = {}
            for rep in range(opts.repeat):
                for kind, cmd, who in rows:
                    r = conngen_run(conngen, cmd, ["--mode", "churn", "--connections", "8",
                                                   *conngen_flags(kind)], opts.seconds)
                    r["cpu_us_per_conn"] = r["cpu_s"] * 1e6 / max(1, r["cycles"]) * \
                        opts.seconds / (opts.seconds + 1)
                    results.setdefault((kind, who), []).append(r)
                    print(f"# run {rep + 1} churn {kind:9} {who:12} {r['per_s']:8.0f}/s "
                          f"cpu {r['cpu_us_per_conn']:.0f}us/conn failed {r['failed']}",
                          file=sys.stderr, flush=True)
            print()
            print("Connections set up, used for one ping and closed, per second (8 client loops; "
                  f"median of {opts.repeat} runs; client and server share the machine):")
            print()
            print("| handshake | server | connections/s | server CPU us/connection |")
            print("|---|---|---:|---:|")
            for kind, _, who in rows:
                rs = results[(kind, who)]
                print(f"| {kind} | {who} | {statistics.median(r['per_s'] for r in rs):,.0f} "
                      f"| {statistics.median(r['cpu_us_per_conn'] for r in rs):,.0f} |")

        if "overload" in sections:
            # Capacity: closed loop, enough connections to keep the workers busy.
            loadgen = f"{b}/tests/bench/thrum-loadgen"
            proc, address = start(servers["thrum"])
            try:
                cap = run_row(loadgen, address, proc.pid,
                              ["--call", "work", "--micros", "1000", "--connections", "16"],
                              opts.seconds, 1)["calls_per_s"]
            finally:
                stop_server(proc)
            rate = 3 * cap
            rows = [("thrum, defaults", servers["thrum"]),
                    ("thrum, queue-timeout 50 ms", servers["thrum"] + ["--queue-timeout-ms", "50"]),
                    ("TNonblocking", servers["nonblocking"])]
            results = {}
            for rep in range(opts.repeat):
                for name, cmd in rows:
                    r = conngen_run(conngen, cmd, ["--mode", "open", "--connections", "64",
                                                   "--rate", str(rate), "--call", "work",
                                                   "--micros", "1000"], opts.seconds)
                    results.setdefault(name, []).append(r)
                    print(f"# run {rep + 1} overload {name:28} ok {r['ok_per_s']:.0f}/s rejected "
                          f"{r['rejected_per_s']:.0f}/s unanswered {r['unanswered']} "
                          f"p50 {r['p50_us']}us p99 {r['p99_us']}us", file=sys.stderr, flush=True)
            print()
            print(f"Overload: work(1 ms) offered open-loop at 3x capacity ({cap:,.0f} calls/s "
                  f"measured closed-loop just before, so {rate:,.0f}/s) over 64 connections, "
                  f"{opts.seconds:g} s; median of {opts.repeat} runs:")
            print()
            print("| server | accepted calls/s | accepted p50 / p99 (ms) | rejected/s "
                  "| unanswered at the end |")
            print("|---|---:|---:|---:|---:|")
            for name, _ in rows:
                rs = results[name]
                med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
                print(f"| {name} | {med('ok_per_s'):,.0f} | {med('p50_us') / 1000:,.1f} / "
                      f"{med('p99_us') / 1000:,.1f} | {med('rejected_per_s'):,.0f} "
                      f"| {med('unanswered'):,.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="load generator threads")
    ap.add_argument("--rows", default="", help="substring filter on row names")
    ap.add_argument("--idle", default="1000,10000",
                    help="idle-connection counts for the memory tables ('' to skip)")
    ap.add_argument("--sections", default="calls,idle,tls-idle,churn,overload",
                    help="which tables to produce")
    opts = ap.parse_args()
    sections = opts.sections.split(",")

    b = opts.build
    servers = {
        "thrum": [f"{b}/services/bench/thrum-bench-server", "--listen", "127.0.0.1:0",
                  "--io-threads", "2", "--workers", "4", "--log-level", "warn"],
        "nonblocking": [f"{b}/tests/bench/thrum-bench-nb-server", "--port", "0",
                        "--io-threads", "2", "--workers", "4"],
    }
    loadgen = f"{b}/tests/bench/thrum-loadgen"
    rows = [r for r in ROWS if opts.rows in r[0]] if "calls" in sections else []
    results = {(name, s): [] for name, _ in rows for s in servers}

    for rep in range(opts.repeat):
        for name, args in rows:
            for server, cmd in servers.items():
                # A fresh server for every run: no state carries between rows.
                proc, address = start(cmd)
                try:
                    r = run_row(loadgen, address, proc.pid, args, opts.seconds, opts.threads)
                finally:
                    stop_server(proc)
                results[(name, server)].append(r)
                print(f"# run {rep + 1}/{opts.repeat} {name:24} {server:12} "
                      f"{r['calls_per_s']:9.0f}/s p50 {r['p50_us']}us p99 {r['p99_us']}us "
                      f"cpu {r['cpu_us_per_call']:.1f}us/call errors {r['errors']}",
                      file=sys.stderr, flush=True)

    def med(name, server, key):
        return statistics.median(r[key] for r in results[(name, server)])

    if rows:
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

    counts = [int(c) for c in opts.idle.split(",") if c] if "idle" in sections else []
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

    tls_sasl_sections(opts, b, servers, sections)


if __name__ == "__main__":
    main()
