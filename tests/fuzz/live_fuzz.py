#!/usr/bin/env python3
"""The live-server fuzz test: thrum-live-fuzz against a running thrum-bench-server.

    live_fuzz.py SERVER FUZZER [--seconds N] [--jobs N] [--seed N]

Makes a sasldb (alice/secret, realm THRUM.TEST) with saslpasswd2, starts the
server on loopback with a plain endpoint and a SASL one (PLAIN and
DIGEST-MD5, every QoP), runs N fuzzer processes at once (default 2; seeds
SEED, SEED+1, ...) for the given seconds (default 60), then
stops the server with SIGTERM. Passes when the fuzzer saw every fresh ping
answered, the server exited 0, and its stderr holds no sanitizer report
(AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer). The server is
ended by PID whatever happens.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Checks, listening_ports  # noqa: E402

REPORTS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
           "WARNING: ThreadSanitizer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("fuzzer")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="thrum-live-fuzz-")
    server = None
    try:
        sasldb = os.path.join(tmp, "sasldb")
        subprocess.run(["saslpasswd2", "-f", sasldb, "-u", "THRUM.TEST", "-a", "thrum", "-p", "-c",
                        "alice"], input=b"secret", check=True)
        stderr_path = os.path.join(tmp, "server.stderr")
        with open(stderr_path, "w") as stderr:
            server = subprocess.Popen(
                [args.server, "--listen", "tcp:port=0:interface=127.0.0.1",
                 "--listen", "tcp:port=0:interface=127.0.0.1:sasl=required:mechs=PLAIN,DIGEST-MD5:"
                 f"sasldb={sasldb}:realm=THRUM.TEST:hostname=localhost",
                 "--workers", "4", "--handshake-timeout-ms", "2000", "--log-level", "warn"],
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        ports = [str(p) for p in listening_ports(server, 2)]
        fuzzers = []
        for job in range(args.jobs):
            command = [args.fuzzer, "--plain", ports[0], "--sasl", ports[1],
                       "--seconds", str(args.seconds)]
            if args.seed is not None:
                command += ["--seed", str(args.seed + job)]
            fuzzers.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        for job, fuzz in enumerate(fuzzers):
            out, _ = fuzz.communicate(timeout=args.seconds + 120)
            print(f"fuzzer {job}: {out.strip()}")
            checks.check(f"fuzzer {job}: a fresh ping answered after every batch",
                         fuzz.returncode == 0, f"exit {fuzz.returncode}")
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        server = None
        checks.check("server exits 0 after SIGTERM", code == 0, f"exit {code}")
        with open(stderr_path, errors="backslashreplace") as f:
            log = f.read()
        reports = [line for line in log.splitlines() if any(r in line for r in REPORTS)]
        checks.check("no sanitizer report from the server", not reports, "\n".join(reports[:20]))
        if reports or code != 0:
            print(log[-20000:])
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
