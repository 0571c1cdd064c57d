#!/usr/bin/python3
"""Debian's python3-thrift client against thrum-bench-server.

A second, independent implementation of the Thrift wire: every stock
Python stack (framed or buffered transport x binary or compact protocol)
calls every Bench method; then SIGTERM must drain and exit 0.

usage: python_client.py SERVER_BINARY GEN_PY_DIR
"""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, sys.argv[2])
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

from thrift.Thrift import TApplicationException, TException  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

from bench import Bench  # noqa: E402
from checks import Checks  # noqa: E402

STACKS = [
    ("framed", "binary"),
    ("framed", "compact"),
    ("buffered", "binary"),
    ("buffered", "compact"),
]

CHECKS = Checks()
check = CHECKS.check


def connect(port, framing, protocol):
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30000)
    if framing == "framed":
        trans = TTransport.TFramedTransport(sock)
    else:
        trans = TTransport.TBufferedTransport(sock)
    if protocol == "binary":
        proto = TBinaryProtocol.TBinaryProtocol(trans)
    else:
        proto = TCompactProtocol.TCompactProtocol(trans)
    trans.open()
    return trans, Bench.Client(proto)


def start_server(binary, *flags):
    server = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()
    if not line.startswith("listening on "):
        server.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return server, int(line.rsplit(":", 1)[1])


def main():
    binary = sys.argv[1]
    server, port = start_server(binary, "--workers", "4")
    try:
        for framing, protocol in STACKS:
            stack = f"{framing}/{protocol}"
            trans, client = connect(port, framing, protocol)
            try:
                pinged = client.ping() is None
            except TException as e:
                pinged = e
            check(f"{stack} ping", pinged is True, pinged)
            check(f"{stack} echo", client.echo(b"hello") == b"hello")
            payload = bytes(range(256)) * 1024
            check(f"{stack} echo 256 KiB", client.echo(payload) == payload)
            check(f"{stack} work", client.work(100) > 0)
            for absurd in (-1, 2_000_000_000):
                try:
                    client.work(absurd)
                    refused = "ran"
                except TApplicationException as e:
                    refused = e.message
                check(f"{stack} work({absurd}) refused with the reason",
                      refused == f"work: micros must be from 0 to 1000000, not {absurd}", refused)
            client.fire(b"x")
            check(f"{stack} ping after oneway", client.ping() is None)
            try:
                client._iprot  # the stock client, unmodified
                client.send_echo(b"a")
                client.send_echo(b"b")
                got = [client.recv_echo(), client.recv_echo()]
                check(f"{stack} pipelined in order", got == [b"a", b"b"], got)
            except TApplicationException as e:
                check(f"{stack} pipelined", False, e)
            trans.close()

        # Many Python clients at once.
        results = []

        def worker(i):
            framing, protocol = STACKS[i % 4]
            trans, client = connect(port, framing, protocol)
            value = str(i).encode()
            results.append(all(client.echo(value) == value for _ in range(20)))
            trans.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check("50 concurrent python clients", len(results) == 50 and all(results))

        # SIGTERM while a call is in flight: it is answered, then exit 0.
        trans, client = connect(port, "framed", "compact")
        client.send_work(300000)
        time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        check("in-flight call answered during drain", client.recv_work() > 0)
        trans.close()
        code = server.wait(timeout=30)
        check("server exits 0 after SIGTERM", code == 0, f"exit {code}")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
