#!/usr/bin/env bash
# Checks the workspace's rust-version against what it needs: every
# dependency's own rust-version must be at most it. (pets' own code is held
# to it by clippy's `incompatible_msrv` lint in the suite.) Prints the
# dependencies that ask for the most, and fails if one asks for more.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "[msrv] python3 is needed to read cargo metadata" >&2; exit 1; }
cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def version(v):
    return tuple((list(map(int, v.split("."))) + [0, 0])[:3])
ours = {p["id"] for p in meta["packages"] if p["id"] in meta["workspace_members"]}
declared = {p.get("rust_version") for p in meta["packages"] if p["id"] in ours}
if len(declared) != 1 or None in declared:
    sys.exit(f"[msrv] the workspace members do not all declare one rust-version: {declared}")
msrv = declared.pop()
deps = sorted(((p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
               if p["id"] not in ours and p.get("rust_version")), key=lambda d: version(d[0]))
for need, name, v in deps[-3:]:
    print(f"[msrv] {name} {v} needs Rust {need}")
over = [d for d in deps if version(d[0]) > version(msrv)]
if over:
    sys.exit("[msrv] rust-version is " + msrv + ", but these need more: " + ", ".join(f"{n} {v} ({r})" for r, n, v in over))
print(f"[msrv] rust-version {msrv} covers every dependency")
'
