#!/usr/bin/python3
"""framework/layering.py refuses wrong-way includes and passes right-way ones.

usage: layering_test.py LAYERING_PY
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import Checks  # noqa: E402

CHECKS = Checks()
check = CHECKS.check


def tree(root, files):
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)


def layering(script, root):
    allowed = os.path.join(root, "allowed.txt")
    with open(allowed, "w") as f:
        f.write("io: \ndispatch: io\n")
    stamp = os.path.join(root, "ok")
    done = subprocess.run(["/usr/bin/python3", script, allowed, os.path.join(root, "fw"), stamp],
                          capture_output=True, text=True, timeout=60)
    return done, os.path.exists(stamp)


def main():
    script = sys.argv[1]
    with tempfile.TemporaryDirectory() as root:
        tree(root, {"fw/io/pool.h": '#include <vector>\n#include "thrum/io/other.h"\n',
                    "fw/dispatch/call.cc": '#include "thrum/io/pool.h"\n#include "thrum/status.h"\n'})
        done, stamped = layering(script, root)
        check("downward and same-folder includes pass", done.returncode == 0 and stamped,
              done.stderr)

        tree(root, {"fw/io/pool.h": '#include "thrum/dispatch/call.h"\n'})
        done, stamped = layering(script, root)
        check("an upward include fails the check", done.returncode == 1 and not stamped)
        check("the failure names the file, line and both folders",
              "framework/io/pool.h:1: includes thrum/dispatch/call.h, but thrum_io does not link "
              "the library of dispatch/" in done.stderr, done.stderr)

        tree(root, {"fw/io/pool.h": "\n", "fw/dispatch/call.cc": '#include "tests/support/x.h"\n'})
        done, stamped = layering(script, root)
        check("the library never includes the tests",
              done.returncode == 1 and "framework/dispatch/call.cc:1: includes tests/support/x.h"
              in done.stderr, done.stderr)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
