#!/usr/bin/python3
"""thrum-bench-server on descriptors handed over by a parent process.

Cases:
  fd       the parent binds 127.0.0.1:0 and runs the server with --listen fd:N
           (the descriptor inherited, not reopened); a python3-thrift client calls it.
  systemd  the parent passes three listening sockets (TCP, unix, and a unix
           socket for TLS) at fds 3 to 5 with LISTEN_PID, LISTEN_FDS=3 and
           LISTEN_FDNAMES exactly as systemd does; the server listens on
           systemd:index=0, systemd:name=local and tls:systemd:name=secure, and
           python3-thrift's TSSLSocket calls through the last over the unix socket.
  many     one server on tcp:0, [::1]:0 and a unix path at once.
  bad tls/sasl a missing certificate, a key that is no key, a mechanism that is
               not installed, a missing sasldb or keytab: --check-config and
               start-up both exit 2 naming the file or mechanism
  bad config   several bad settings from several sources: exit 2, every
           problem named, nothing created.
  tls      TCP, unix and TLS endpoints at once; Debian's python3-thrift
           TSSLSocket calls over TLS 1.3 with verification.
  config file  settings from a TOML file named by THRUM_CONFIG, overridden by
           the environment and the command line; --check-config shows sources.
Each server ends with SIGTERM and must exit 0.

usage: socket_activation.py SERVER_BINARY GEN_PY_DIR
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, sys.argv[2])
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TSSLSocket, TTransport  # noqa: E402

from bench import Bench  # noqa: E402
from checks import Checks  # noqa: E402

SERVER = sys.argv[1]
CHECKS = Checks()
check = CHECKS.check


def echo(payload, host=None, port=None, unix=None):
    sock = TSocket.TSocket(unix_socket=unix) if unix else TSocket.TSocket(host, port)
    sock.setTimeout(10000)
    trans = TTransport.TFramedTransport(sock)
    client = Bench.Client(TBinaryProtocol.TBinaryProtocol(trans))
    trans.open()
    try:
        return client.echo(payload)
    finally:
        trans.close()


def make_cert(tmp):
    """A self-signed certificate for localhost; (cert, key) paths."""
    cert = os.path.join(tmp, "server.pem")
    key = os.path.join(tmp, "server.key")
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2", "-keyout", key, "-out",
         cert], capture_output=True, text=True)
    check("test certificate made", made.returncode == 0, made.stderr)
    return cert, key


def tls_client(cert, port=None, unix=None):
    """Debian's python3-thrift TLS socket, verifying the server (as localhost)."""
    if unix:
        sock = TSSLSocket.TSSLSocket(unix_socket=unix, server_hostname="localhost",
                                     cert_reqs=ssl.CERT_REQUIRED, ca_certs=cert)
    else:
        sock = TSSLSocket.TSSLSocket("localhost", port, cert_reqs=ssl.CERT_REQUIRED,
                                     ca_certs=cert)
    sock.setTimeout(10000)
    trans = TTransport.TFramedTransport(sock)
    client = Bench.Client(TBinaryProtocol.TBinaryProtocol(trans))
    trans.open()
    return sock, trans, client


def stop(proc, name):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    check(f"{name}: exits 0 after SIGTERM", code == 0, f"exit {code}")


def tcp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def case_fd():
    lsock = tcp_listener()
    port = lsock.getsockname()[1]
    fd = lsock.fileno()
    proc = subprocess.Popen([SERVER, "--listen", f"fd:{fd}"], pass_fds=[fd],
                            stdout=subprocess.PIPE, text=True)
    lsock.close()  # only the child holds it now
    try:
        line = proc.stdout.readline().strip()
        check("fd: server reports the inherited address", line == f"listening on 127.0.0.1:{port}",
              line)
        check("fd: stock client calls through the inherited socket",
              echo(b"inherited", "127.0.0.1", port) == b"inherited")
    finally:
        stop(proc, "fd")


def unix_listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


def case_systemd(tmp, cert, key):
    tcp = tcp_listener()
    port = tcp.getsockname()[1]
    path = os.path.join(tmp, "activated.sock")
    secure_path = os.path.join(tmp, "secure.sock")
    passed = [tcp, unix_listener(path), unix_listener(secure_path)]
    # As systemd does it: descriptors from 3 on, LISTEN_PID naming the very
    # process that execs the server ($$ survives exec).
    script = ('LISTEN_PID=$$ LISTEN_FDS=3 LISTEN_FDNAMES=tcp:local:secure exec "$0" "$@" ' +
              " ".join(f"{3 + i}<&{s.fileno()}" for i, s in enumerate(passed)))
    proc = subprocess.Popen(
        ["/bin/sh", "-c", script, SERVER, "--listen", "systemd:index=0",
         "--listen", "systemd:name=local",
         "--listen", f"tls:systemd:name=secure:cert={cert}:key={key}"],
        pass_fds=[s.fileno() for s in passed], stdout=subprocess.PIPE, text=True)
    for s in passed:
        s.close()
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        check("systemd: every passed socket reported",
              lines == [f"listening on 127.0.0.1:{port}", f"listening on unix:{path}",
                        f"listening on unix:{secure_path}"], lines)
        check("systemd: call over the TCP socket", echo(b"tcp", "127.0.0.1", port) == b"tcp")
        check("systemd: call over the unix socket by name", echo(b"unix", unix=path) == b"unix")
        sock, trans, client = tls_client(cert, unix=secure_path)
        check("systemd: TLS over the passed unix socket, verified",
              client.echo(b"secure") == b"secure")
        check("systemd: TLS 1.3 over the unix socket", sock.handle.version() == "TLSv1.3",
              sock.handle.version())
        trans.close()
    finally:
        stop(proc, "systemd")


def case_many(tmp):
    path = os.path.join(tmp, "many.sock")
    proc = subprocess.Popen(
        [SERVER, "--listen", "tcp:port=0:interface=127.0.0.1", "--listen", "[::1]:0",
         "--listen", f"unix:address={path}:mode=0660"],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        v4 = int(lines[0].rsplit(":", 1)[1])
        v6 = int(lines[1].rsplit(":", 1)[1])
        check("many: three endpoints reported", lines[2] == f"listening on unix:{path}", lines)
        check("many: IPv4", echo(b"4", "127.0.0.1", v4) == b"4")
        check("many: IPv6", echo(b"6", "::1", v6) == b"6")
        check("many: unix", echo(b"u", unix=path) == b"u")
        check("many: unix mode 0660", oct(os.stat(path).st_mode & 0o777) == "0o660")
    finally:
        stop(proc, "many")
    check("many: unix socket file removed on exit", not os.path.exists(path))


def case_tls(tmp, cert, key):
    """The done-when of the endpoint issue: TCP, unix and TLS at once."""
    path = os.path.join(tmp, "x.sock")
    proc = subprocess.Popen(
        [SERVER, "--listen", "tcp:port=0:interface=127.0.0.1", "--listen", f"unix:{path}",
         "--listen", f"tls:port=0:interface=127.0.0.1:cert={cert}:key={key}"],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        tcp_port = int(lines[0].rsplit(":", 1)[1])
        tls_port = int(lines[2].rsplit(":", 1)[1])
        check("tls: plain TCP alongside", echo(b"tcp", "127.0.0.1", tcp_port) == b"tcp")
        check("tls: unix alongside", echo(b"unix", unix=path) == b"unix")
        sock, trans, client = tls_client(cert, port=tls_port)
        payload = os.urandom(100 * 1024)
        check("tls: python3-thrift TSSLSocket echo, verified", client.echo(payload) == payload)
        check("tls: negotiated TLS 1.3", sock.handle.version() == "TLSv1.3", sock.handle.version())
        first = sock.handle.getpeercert(binary_form=True)

        # SIGHUP reloads the certificate: new connections get the new one,
        # the open connection keeps working.
        make_cert(tmp)
        proc.send_signal(signal.SIGHUP)
        renewed = None
        for _ in range(100):
            again = TSSLSocket.TSSLSocket("localhost", tls_port, cert_reqs=ssl.CERT_REQUIRED,
                                          ca_certs=cert)
            try:
                again.open()
                renewed = again.handle.getpeercert(binary_form=True)
                again.close()
            except Exception:
                # Until the reload lands, the old certificate fails to verify
                # against the new file and the handshake is refused.
                renewed = None
            if renewed is not None and renewed != first:
                break
            time.sleep(0.05)
        check("tls: SIGHUP serves the new certificate to new connections",
              renewed is not None and renewed != first)
        check("tls: the open connection keeps working after reload", client.echo(b"still") == b"still")
        trans.close()
    finally:
        stop(proc, "tls")


def case_bad_config(tmp):
    path = os.path.join(tmp, "never.sock")
    proc = subprocess.run(
        [SERVER, "--listen", f"unix:{path}", "--listen", "tcp:port=99999", "--workers", "0"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "THRUM_QUEUE": "lots"})
    check("bad config: exit code 2", proc.returncode == 2, proc.returncode)
    for problem in ["3 configuration problems",
                    "listen = ", "tcp: port must be a number from 0 to 65535, not '99999'",
                    "workers = 0 (from command line --workers): must be from 1 to 4096",
                    "queue = lots (from environment THRUM_QUEUE): not a whole number"]:
        check(f"bad config: names '{problem}'", problem in proc.stderr, proc.stderr)
    check("bad config: no socket file created", not os.path.exists(path))

    proc = subprocess.run(
        [SERVER, "--listen", f"unix:{path}", "--lane", "cheap workers=0", "--route", "ping lane=x*"],
        capture_output=True, text=True, timeout=30)
    check("bad lanes: exit code 2", proc.returncode == 2, proc.returncode)
    for problem in ["lane 'cheap workers=0': workers=0 is outside 1..4096",
                    "route 'ping lane=x*': 'x*' is not a lane name"]:
        check(f"bad lanes: names '{problem}'", problem in proc.stderr, proc.stderr)
    proc = subprocess.run(
        [SERVER, "--listen", f"unix:{path}", "--lane", "cheap", "--route", "ping lane=slow"],
        capture_output=True, text=True, timeout=30)
    check("lanes that do not fit: exit code 2", proc.returncode == 2, proc.returncode)
    check("lanes that do not fit: named",
          "route 'ping' names lane 'slow', not defined" in proc.stderr, proc.stderr)
    check("bad lanes: no socket file created", not os.path.exists(path))


def case_bad_tls_and_sasl(tmp, cert):
    # What listen() would refuse, --check-config refuses first, without binding.
    garbage = os.path.join(tmp, "garbage.key")
    with open(garbage, "w") as f:
        f.write("not a key\n")
    missing = os.path.join(tmp, "missing")
    cases = [
        (f"tls:port=0:cert={missing}.pem:key={garbage}",
         f"tls cert {missing}.pem: No such file or directory"),
        (f"tls:port=0:cert={cert}:key={garbage}", f"tls key {garbage}"),
        (f"tcp:port=0:sasl=required:mechs=NOPE:sasldb={garbage}",
         "sasl: mechanism NOPE is not installed"),
        (f"tcp:port=0:sasl=required:mechs=PLAIN:sasldb={missing}.db",
         f"sasl: sasldb {missing}.db: No such file or directory"),
        (f"tcp:port=0:sasl=required:mechs=GSSAPI:keytab={missing}.keytab",
         f"sasl: keytab {missing}.keytab: No such file or directory"),
    ]
    for spec, problem in cases:
        for mode in (["--check-config"], []):
            proc = subprocess.run([SERVER, *mode, "--listen", spec], capture_output=True, text=True,
                                  timeout=30)
            what = "--check-config" if mode else "start-up"
            check(f"{what} refuses '{problem}': exit 2", proc.returncode == 2, proc.returncode)
            check(f"{what} names '{problem}'", problem in proc.stderr, proc.stderr)


def case_config_file(tmp):
    path = os.path.join(tmp, "thrum.toml")
    sock = os.path.join(tmp, "from-file.sock")
    with open(path, "w") as f:
        f.write(f'listen = ["unix:{sock}"]\nworkers = 2\nqueue = 8\n')
    env = {**os.environ, "THRUM_CONFIG": path, "THRUM_QUEUE": "16"}
    shown = subprocess.run([SERVER, "--check-config", "--workers", "3"], capture_output=True,
                           text=True, timeout=30, env=env)
    check("config file: --check-config shows values and sources",
          f'listen = ["unix:{sock}"]  # config file' in shown.stdout
          and "workers = 3  # command line" in shown.stdout
          and "queue = 16  # environment THRUM_QUEUE" in shown.stdout, shown.stdout + shown.stderr)
    check("config file: --check-config starts nothing", not os.path.exists(sock))
    check("defaults: a connection limit and a memory budget unless configured otherwise",
          "max-connections = 16384  # default" in shown.stdout
          and "max-buffered-bytes = 1073741824  # default" in shown.stdout, shown.stdout)
    proc = subprocess.Popen([SERVER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        check("config file: listens where the file says", line == f"listening on unix:{sock}", line)
        check("config file: serves", echo(b"file", unix=sock) == b"file")
    finally:
        stop(proc, "config file")


def main():
    tmp = tempfile.mkdtemp(prefix="thrum-activation-")
    try:
        cert, key = make_cert(tmp)
        case_fd()
        case_systemd(tmp, cert, key)
        case_many(tmp)
        case_bad_config(tmp)
        case_bad_tls_and_sasl(tmp, cert)
        case_config_file(tmp)
        case_tls(tmp, cert, key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
