#!/usr/bin/env bash
# The benchmark: pets (release build) against nginx serving the same page and
# against raw Consul writes, on a real three-server Consul cluster.
#   scripts/bench.sh                 10 s per row, at 64 and 256 connections
#   scripts/bench.sh --seconds 3     the short version CI runs
# Fails only if a page view or a vote was lost; ratios are reported.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cargo build --release --locked -p pets -p pets-bench
exec target/release/pets-bench "$@"
