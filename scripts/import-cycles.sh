#!/usr/bin/env bash
# Lists the import cycles between modules of each crate (`use crate::...`
# between files; lane <-> recovery is allowed), and the source files past
# about 450 lines: the layout test of the suite, run on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --quiet -p pets --test api layout -- --nocapture
