"""Named checks for the Python test scripts run by CTest, and the ports a
thrum server started by one says it listens on.

    from checks import Checks
    c = Checks()
    c.check("server answers", reply == b"x", reply)
    sys.exit(c.finish())   # prints "N passed, N failed"; non-zero on any failure
"""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def listening_ports(server, count):
    """The TCP ports of the first `count` "listening on ADDR:PORT" lines a
    thrum server (a subprocess.Popen with text stdout) prints; its log may
    share the stream. Raises when it exits first."""
    ports = []
    while len(ports) < count:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("the server exited before listening")
        if line.startswith("listening on "):
            ports.append(int(line.rsplit(":", 1)[1]))
    return ports
