#!/usr/bin/env python3
"""Layer check: every `#include "x.h"` in the layered code must name a header
of the same layer or of one below it (docs: the Layout section of the
architecture document).

    common -> maps -> loader -> config -> datapath | policy | telemetry
           -> proxy -> admin -> daemon -> cmd

Headers are included by basename, so each basename is resolved to the one
directory that holds it; a basename found in two directories is an error
too. Includes that resolve to nothing here (system headers, generated
skeletons and protobuf headers) are not checked. test/ and bench/ are outside
the layers. Siblings (datapath, policy, telemetry) do not include each other.
Config also knows nothing of kernel maps: it includes nothing from maps/,
bpf/ or loader/.

Usage: check_layers.py [repo root]; exit 1 listing every violation.
"""
import os
import re
import sys

# Directory prefix -> (layer name, rank). The longest matching prefix wins.
LAYERS = [
    ("userspace/common", "common", 0),
    ("maps", "maps", 1),
    ("bpf", "maps", 1),  # kernel programs: on the shared types only
    ("loader", "loader", 2),
    ("userspace/config", "config", 3),
    ("userspace/k8s", "config", 3),
    ("userspace/datapath", "datapath", 4),
    ("userspace/policy", "policy", 4),
    ("userspace/telemetry", "telemetry", 4),
    ("userspace/proxy", "proxy", 5),  # and every subfolder
    ("userspace/admin", "admin", 6),
    ("userspace/daemon", "daemon", 7),
    ("userspace/cmd", "cmd", 8),
]
SCANNED = ["userspace", "maps", "loader", "bpf"]
SOURCE_EXT = (".h", ".hpp", ".c", ".cc", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
# Config produces snapshots only: kernel maps are the datapath's.
FORBIDDEN = {"config": {"maps", "loader"}}


def layer_of(rel_dir):
    best = None
    for prefix, name, rank in LAYERS:
        if rel_dir == prefix or rel_dir.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, name, rank)
    return None if best is None else best[1:]


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if f.endswith(SOURCE_EXT):
                    files.append(os.path.relpath(os.path.join(dirpath, f), root))

    problems = []
    homes = {}
    for rel in files:
        homes.setdefault(os.path.basename(rel), []).append(os.path.dirname(rel))
    for base, dirs in sorted(homes.items()):
        if len(dirs) > 1 and base.endswith((".h", ".hpp")):
            problems.append(f"{base}: one basename in {len(dirs)} directories: {', '.join(sorted(dirs))}")

    checked = 0
    for rel in files:
        here = layer_of(os.path.dirname(rel))
        if here is None:
            problems.append(f"{rel}: in no layer (add its directory to scripts/check_layers.py)")
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = os.path.basename(m.group(1))
                dirs = homes.get(target)
                if not dirs or len(dirs) != 1:
                    continue  # system, generated, or reported above
                there = layer_of(dirs[0])
                if there is None or dirs[0] == os.path.dirname(rel):
                    continue
                checked += 1
                name, rank = here
                tname, trank = there
                where = f"{rel}:{lineno}: {name} includes {target} ({dirs[0]}, {tname})"
                if trank > rank:
                    problems.append(where + ": upward")
                elif trank == rank and tname != name:
                    problems.append(where + ": sideways, between siblings")
                elif tname in FORBIDDEN.get(name, ()) or (name == "config" and dirs[0] == "bpf" or
                                                          name == "config" and dirs[0].startswith("bpf/")):
                    problems.append(where + ": config knows nothing of kernel maps")

    for p in problems:
        print(p)
    print(f"check_layers: {len(files)} files, {checked} cross-directory includes, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
