#!/usr/bin/python3
"""thrum used from outside this repository, the ways its users use it.

Builds the greeter service in this folder (its own CMake project, IDL,
handler and main(); nothing of thrum's but what it installs) and the
README's "Writing a service" example, then starts each binary and calls it
with Debian's python3-thrift client, over plain TCP and with SASL PLAIN:

  prefix        find_package(thrum) from `cmake --install` into a prefix
  readme        the README's example, cut out of README.md, same prefix
  pkg-config    greeter_server.cc compiled by g++ with `pkg-config thrum`
  subdirectory  add_subdirectory() of the checkout: only the library is
                built (no tests, no services, no GoogleTest or Mapnik)
  deb           (--packages; root or sudo) cpack's thrum-dev and
                thrum-tile-server packages checked by lintian, installed
                with apt-get, the greeter built against /usr, and the
                installed tile server rendering a tile; removed at the end

usage: check.py THRUM_BUILD_DIR [--packages] [--tile-data DIR]
THRUM_BUILD_DIR is a configured and built thrum tree (build/release).
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "support"))

from checks import Checks, listening_ports  # noqa: E402

CHECKS = Checks()
check = CHECKS.check
REALM = "THRUM.TEST"


def run(args, timeout=900, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def ran(name, done):
    """Checks a finished command; on failure shows the end of its output."""
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
    check(name, done.returncode == 0, "\n" + tail)
    return done.returncode == 0


def cmake_build(name, src, build, *args, env=None):
    if not ran(f"{name}: cmake configures",
               run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    *args], env=env)):
        return None
    if not ran(f"{name}: builds", run(["cmake", "--build", build], timeout=1800, env=env)):
        return None
    return build


def python_call(gen_py, port, sasl=None):
    """Calls the greeter from a python3-thrift child; returns key=value lines."""
    transport = "TTransport.TFramedTransport(sock)"
    if sasl:
        transport = (f"TTransport.TSaslClientTransport(sock, 'localhost', 'thrift', "
                     f"mechanism='PLAIN', username={sasl[0]!r}, password={sasl[1]!r})")
    code = f"""
import sys
sys.path.insert(0, {gen_py!r})
from thrift.transport import TSocket, TTransport
from thrift.protocol import TBinaryProtocol
from greeter import Greeter
from greeter.ttypes import BadName
sock = TSocket.TSocket("127.0.0.1", {port})
trans = {transport}
try:
    trans.open()
except Exception as e:
    print("open=" + str(e).replace(chr(10), " "))
    sys.exit(0)
client = Greeter.Client(TBinaryProtocol.TBinaryProtocol(trans))
print("greet=" + client.greet("ann"))
try:
    client.greet("")
    print("empty=answered")
except BadName as e:
    print("empty=BadName:" + e.why)
print("principal=" + client.whoami().principal)
trans.close()
"""
    done = run(["/usr/bin/python3", "-c", code], timeout=60)
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    if done.returncode != 0:
        out["error"] = done.stderr.strip()
    return out


def call_greeter(name, binary, gen_py, sasldb):
    """Starts a greeter build, calls it over TCP and SASL PLAIN, stops it."""
    bad = run([binary, "--greeting", ""], timeout=30)
    check(f"{name}: a bad setting of the service's own is refused (exit 2)",
          bad.returncode == 2 and "greeting" in bad.stderr and "must not be empty" in bad.stderr,
          (bad.returncode, bad.stderr))
    unusable = run([binary, "--listen", "unix:/nonexistent-dir/greeter.sock"], timeout=30)
    check(f"{name}: an endpoint that cannot be opened ends the start-up (exit 1)",
          unusable.returncode == 1 and "/nonexistent-dir/greeter.sock" in unusable.stderr,
          (unusable.returncode, unusable.stderr))
    server = subprocess.Popen(
        [binary, "--greeting", "hi", "--listen", "tcp:port=0:interface=127.0.0.1",
         "--listen", f"tcp:port=0:interface=127.0.0.1:sasl=required:mechs=PLAIN"
                     f":sasldb={sasldb}:realm={REALM}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        plain, sasl = listening_ports(server, 2)
        got = python_call(gen_py, plain)
        check(f"{name}: TCP greet", got.get("greet") == "hi, ann", got)
        check(f"{name}: TCP declared exception",
              got.get("empty") == "BadName:a name cannot be empty", got)
        check(f"{name}: TCP whoami has no principal", got.get("principal") == "", got)
        got = python_call(gen_py, sasl, ("alice", "secret"))
        check(f"{name}: SASL PLAIN greet", got.get("greet") == "hi, ann", got)
        check(f"{name}: SASL PLAIN whoami", got.get("principal") == f"alice@{REALM}", got)
        got = python_call(gen_py, sasl, ("alice", "wrong"))
        check(f"{name}: SASL PLAIN wrong password refused",
              "Authentication failed" in got.get("open", ""), got)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    check(f"{name}: SIGTERM drains and exits 0", code == 0, code)


def call_echo(name, binary, gen_py):
    """The README's echo server: one call over TCP."""
    server = subprocess.Popen([binary, "--listen", "tcp:port=0:interface=127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        (port,) = listening_ports(server, 1)
        code = f"""
import sys
sys.path.insert(0, {gen_py!r})
from thrift.transport import TSocket, TTransport
from thrift.protocol import TBinaryProtocol
from echo import Echo
trans = TTransport.TFramedTransport(TSocket.TSocket("127.0.0.1", {port}))
trans.open()
print(Echo.Client(TBinaryProtocol.TBinaryProtocol(trans)).echo("from the README"))
"""
        done = run(["/usr/bin/python3", "-c", code], timeout=60)
        check(f"{name}: echo answers", done.stdout.strip() == "from the README",
              done.stdout + done.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        check(f"{name}: SIGTERM drains and exits 0", server.wait(timeout=60) == 0)


def readme_project(work):
    """The files of the README's example, each a code block after
    <!-- file: NAME -->, written into a fresh folder."""
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    blocks = re.findall(r"<!-- file: (\S+) -->\s*```\w*\n(.*?)```", text, re.S)
    check("readme: has the example's CMakeLists.txt, IDL and main()",
          sorted(name for name, _ in blocks) == ["CMakeLists.txt", "echo.thrift", "echo_server.cc"],
          [name for name, _ in blocks])
    folder = os.path.join(work, "readme")
    os.makedirs(folder)
    for name, body in blocks:
        with open(os.path.join(folder, name), "w") as f:
            f.write(body)
    return folder


def pkg_config_build(work, prefix, libdir):
    """greeter_server.cc compiled with nothing but pkg-config's flags."""
    gen = os.path.join(work, "pc-gen")
    os.makedirs(gen)
    ran("pkg-config: thrift generates C++",
        run(["thrift", "--gen", "cpp:no_skeleton", "-out", gen, os.path.join(HERE, "greeter.thrift")]))
    env = {**os.environ, "PKG_CONFIG_PATH": os.path.join(libdir, "pkgconfig")}
    flags = run(["pkg-config", "--cflags", "--libs", "thrum"], env=env)
    if not ran("pkg-config: knows thrum", flags):
        return None
    check("pkg-config: flags point into the prefix", prefix in flags.stdout, flags.stdout)
    binary = os.path.join(work, "pc-greeter-server")
    sources = [os.path.join(HERE, "greeter_server.cc")] + glob.glob(os.path.join(gen, "*.cpp"))
    done = run(["g++", "-O2", "-o", binary, "-I", gen, *sources, *flags.stdout.split()],
               timeout=1800)
    return binary if ran("pkg-config: g++ builds the greeter", done) else None


def gen_py(work, idl, name):
    out = os.path.join(work, f"{name}-py")
    os.makedirs(out)
    ran(f"{name}: python stubs generated", run(["thrift", "--gen", "py", "-out", out, idl]))
    return out


def packages(args, work, greeter_py, sasldb):
    """cpack, lintian, apt-get install, a build against /usr, the tile server."""
    build = os.path.abspath(args.build)
    for old in glob.glob(os.path.join(build, "thrum-*.deb")):
        os.remove(old)
    if not ran("deb: cpack builds the packages", run(["cpack", "-G", "DEB"], cwd=build, timeout=1800)):
        return
    debs = sorted(glob.glob(os.path.join(build, "thrum-*.deb")))
    names = [os.path.basename(d).split("_")[0] for d in debs]
    check("deb: thrum-dev and thrum-tile-server", names == ["thrum-dev", "thrum-tile-server"], names)
    lint = run(["lintian", "--tag-display-limit", "0", *debs], timeout=900)
    errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
    check("deb: lintian reports no errors", not errors and lint.returncode in (0, 1),
          "\n".join(errors) or lint.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-E", "apt-get"]
    if not ran("deb: apt-get installs them",
               run([*apt, "install", "--reinstall", "-y", "-q", *debs], env=env, timeout=1800)):
        return
    try:
        built = cmake_build("deb", HERE, os.path.join(work, "deb"))
        if built:
            call_greeter("deb", os.path.join(built, "greeter-server"), greeter_py, sasldb)
        tile_server_from_package(args, work)
    finally:
        ran("deb: apt-get removes them",
            run([*apt, "remove", "-y", "-q", "thrum-dev", "thrum-tile-server"], env=env))


def tile_server_from_package(args, work):
    """/usr/bin/thrum-tile-server with the packaged style renders a tile."""
    if not args.tile_data:
        return
    server = subprocess.Popen(
        ["/usr/bin/thrum-tile-server", "--listen", "tcp:port=0:interface=127.0.0.1",
         "--tile-dir", os.path.join(work, "tiles"), "--data-dir", args.tile_data,
         "--style", "world=/usr/share/thrum/style/world.xml", "--render-threads", "1",
         "--reserved-render-threads", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        (port,) = listening_ports(server, 1)
        png = os.path.join(work, "world-0-0-0.png")
        done = run(["/usr/bin/thrum-tile", "--connect", f"127.0.0.1:{port}", "get", "world/0/0/0",
                    "-o", png], timeout=300)
        with open(png, "rb") if os.path.exists(png) else open(os.devnull, "rb") as f:
            head = f.read(8)
        check("deb: the packaged tile server renders a PNG", done.returncode == 0 and
              head == b"\x89PNG\r\n\x1a\n", done.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        check("deb: the packaged tile server stops on SIGTERM", server.wait(timeout=120) == 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--packages", action="store_true")
    parser.add_argument("--tile-data", help="shapefiles for the packaged tile server (shp/)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="thrum-downstream-")
    try:
        sasldb = os.path.join(work, "sasldb")
        ran("sasldb made with saslpasswd2",
            run(["saslpasswd2", "-f", sasldb, "-u", REALM, "-a", "thrum", "-p", "-c", "alice"],
                input="secret"))
        greeter_py = gen_py(work, os.path.join(HERE, "greeter.thrift"), "greeter")

        prefix = os.path.join(work, "prefix")
        ran("prefix: cmake --install of the dev component",
            run(["cmake", "--install", args.build, "--prefix", prefix, "--component", "dev"]))
        libdir = os.path.dirname(glob.glob(os.path.join(prefix, "**", "libthrum_server.a"),
                                           recursive=True)[0])
        check("prefix: headers under include/thrum/",
              os.path.exists(os.path.join(prefix, "include", "thrum", "thrum.h")))
        check("prefix: a CMake package and a version file",
              os.path.exists(os.path.join(libdir, "cmake", "thrum", "thrumConfigVersion.cmake")))

        built = cmake_build("prefix", HERE, os.path.join(work, "prefix-build"),
                            f"-DCMAKE_PREFIX_PATH={prefix}")
        if built:
            call_greeter("prefix", os.path.join(built, "greeter-server"), greeter_py, sasldb)
        # A version thrum does not promise to be compatible with is refused.
        probe = os.path.join(work, "version-probe")
        os.makedirs(probe)
        with open(os.path.join(probe, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.25)\nproject(p NONE)\n"
                    "find_package(thrum 0.2 CONFIG REQUIRED)\n")
        done = run(["cmake", "-S", probe, "-B", os.path.join(probe, "b"),
                    f"-DCMAKE_PREFIX_PATH={prefix}"])
        check("prefix: find_package(thrum 0.2) refuses 0.1",
              done.returncode != 0 and "version" in done.stderr.lower(), done.stderr[-400:])

        readme = readme_project(work)
        built = cmake_build("readme", readme, os.path.join(readme, "build"),
                            f"-DCMAKE_PREFIX_PATH={prefix}")
        if built:
            call_echo("readme", os.path.join(built, "echo-server"),
                      gen_py(work, os.path.join(readme, "echo.thrift"), "echo"))

        binary = pkg_config_build(work, prefix, libdir)
        if binary:
            call_greeter("pkg-config", binary, greeter_py, sasldb)

        sub = os.path.join(work, "subdirectory")
        built = cmake_build("subdirectory", HERE, sub, f"-DGREETER_THRUM_SOURCE={SOURCE}")
        if built:
            targets = run(["ninja", "-C", sub, "-t", "targets", "all"]).stdout
            executables = sorted(set(re.findall(r"^(\S+): CXX_EXECUTABLE_LINKER", targets, re.M)))
            check("subdirectory: builds only the greeter, no tests or services",
                  executables == ["greeter-server"], executables)
            with open(os.path.join(sub, "CMakeCache.txt")) as f:
                cache = f.read()
            check("subdirectory: neither GoogleTest nor Mapnik is looked for",
                  "GTest_DIR" not in cache and "MAPNIK_CONFIG" not in cache)
            call_greeter("subdirectory", os.path.join(built, "greeter-server"), greeter_py, sasldb)

        if args.packages:
            packages(args, work, greeter_py, sasldb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
