#!/ usr / bin / python3
"""A private MIT Kerberos realm for tests, on loopback, in a temporary directory.

    with TestKdc() as kdc:           # realm THRUM.TEST, KDC on 127.0.0.1:<free port>
        env = kdc.env()              # KRB5_CONFIG, KRB5CCNAME (alice's tickets), KRB5_KTNAME, ...
        ...

The realm has alice (password alicepw), with a ticket cache already made by
kinit, and the service principal thrift/localhost with its keytab. Nothing
outside the directory is read or written (no /etc/krb5.conf, no replay
cache). The KDC runs in the foreground as a child and is ended by its PID.

As a command, for tests that are not Python: `test_kdc.py start DIR` sets
the realm up in DIR, starts the KDC, writes DIR/env (KEY=VALUE lines) and
prints the KDC's PID; `test_kdc.py stop DIR` ends it.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

REALM = "THRUM.TEST"
USER, USER_PASSWORD = "alice", "alicepw"
SERVICE, HOST = "thrift", "localhost"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestKdc:
    def __init__(self, directory=None):
        self.owned = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="thrum-kdc-")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def env(self):
        return {
            "KRB5_CONFIG": self.path("krb5.conf"),
            "KRB5_KDC_PROFILE": self.path("kdc.conf"),
            "KRB5CCNAME": "FILE:" + self.path("alice.cc"),
            "KRB5_KTNAME": "FILE:" + self.path("thrift.keytab"),
            "KRB5RCACHETYPE": "none",
            "KRB5_TRACE": self.path("trace.log"),
        }

    def _run(self, args, stdin=None):
        done = subprocess.run(args, input=stdin, capture_output=True, text=True,
                              env={**os.environ, **self.env()}, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self):
        with open(self.path("krb5.conf"), "w") as f:
            f.write(f"""[libdefaults]
  default_realm = {REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  udp_preference_limit = 1
  default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
  default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
  {
  REALM} = {{
    kdc = 127.0.0.1:{self.port}
  }}
[domain_realm]
  localhost = {
  REALM}
""")
        with open(self.path("kdc.conf"), "w") as f:
            f.write(f"""[kdcdefaults]
  kdc_ports = {self.port}
  kdc_tcp_ports = {self.port}
[realms]
  {REALM} = {{
    database_name = {self.path("principal")}
    key_stash_file = {self.path("stash")}
    acl_file = {self.path("kadm5.acl")}
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    max_life = 1h
  }}
[logging]
  kdc = FILE:{
  self.path("kdc.log")}
""")
        open(self.path("kadm5.acl"), "w").close()
        self._run(["kdb5_util", "create", "-s", "-r", REALM, "-P", "masterpw"])
        for query in [f"addprinc -pw {USER_PASSWORD} {USER}",
                      f"addprinc -randkey {SERVICE}/{HOST}",
                      f"ktadd -k {self.path('thrift.keytab')} {SERVICE}/{HOST}"]:
            self._run(["kadmin.local", "-r", REALM, "-q", query])
        self.proc = subprocess.Popen(["krb5kdc", "-n", "-r", REALM],
                                     env={**os.environ, **self.env()},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("krb5kdc did not start; see " + self.path("kdc.log"))
                time.sleep(0.05)
        self._run(["kinit", USER], stdin=USER_PASSWORD + "\n")
        with open(self.path("env"), "w") as f:
            for key, value in self.env().items():
                f.write(f"{key}={value}\n")
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        if self.owned:
            subprocess.run(["rm", "-rf", self.dir])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "start":
        kdc = TestKdc(sys.argv[2]).start()
#The KDC outlives this script; the caller ends it by PID.
        with open(kdc.path("kdc.pid"), "w") as f:
            f.write(str(kdc.proc.pid))
        print(kdc.proc.pid)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "stop":
        with open(os.path.join(sys.argv[2], "kdc.pid")) as f:
            os.kill(int(f.read()), 15)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
