#!/usr/bin/python3
"""Fails when a framework source includes a header of a library it does not
depend on.

Every framework folder is its own CMake library, and all of them share one
include root (<thrum/...>), so the compiler alone would let dispatch/
include a server/ header. framework/CMakeLists.txt writes, per folder, the
folders its library may use (its own, and those of every thrum library it
links, transitively); this script reads every .h and .cc under the folder
and refuses any "thrum/FOLDER/..." include outside that set, and any
include of the services or the tests.

usage: layering.py ALLOWED_FILE FRAMEWORK_DIR [STAMP]
ALLOWED_FILE has one line per folder: "FOLDER: ALLOWED ALLOWED ...".
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def violations(allowed, framework):
    found = []
    for folder, may_use in sorted(allowed.items()):
        root = os.path.join(framework, folder)
        for name in sorted(os.listdir(root)):
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for match in INCLUDE.finditer(text):
                header = match.group(1)
                line = text.count("\n", 0, match.start()) + 1
                parts = header.split("/")
                if parts[0] in ("services", "tests"):
                    found.append(f"{folder}/{name}:{line}: includes {header}: the library "
                                 "never includes a service or a test")
                elif parts[0] == "thrum" and len(parts) > 2 and parts[1] not in may_use:
                    found.append(f"{folder}/{name}:{line}: includes {header}, but thrum_{folder} "
                                 f"does not link the library of {parts[1]}/ (it may use: "
                                 f"{', '.join(sorted(may_use))})")
    return found


def main():
    allowed_file, framework = sys.argv[1], sys.argv[2]
    stamp = sys.argv[3] if len(sys.argv) > 3 else None
    if stamp and os.path.exists(stamp):
        os.remove(stamp)
    allowed = {}
    with open(allowed_file) as f:
        for line in f:
            folder, _, uses = line.partition(":")
            allowed[folder.strip()] = set(uses.split()) | {folder.strip()}
    found = violations(allowed, framework)
    for v in found:
        print(f"layering: framework/{v}", file=sys.stderr)
    if found:
        return 1
    if stamp:
        with open(stamp, "w") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
