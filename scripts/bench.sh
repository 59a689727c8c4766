#!/usr/bin/env bash
# The benchmark: pets (release build) against nginx serving the same page and
# against raw Consul writes, on a real three-server Consul cluster.
#   scripts/bench.sh                 10 s per row, at 64 and 256 connections
#   scripts/bench.sh --seconds 3     the short version CI runs
#   scripts/bench.sh --scale         the voters curve goes on to 1,000,000 voters
# Then three curves: the pet page at 256, 2,048 and 10,000 connections, an idle
# fleet of 1, 16 and 64 replicas, and a store of 0 and 100,000 voters.
# Fails only if a page view or a vote was lost; ratios are reported.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
cargo build --release --locked -p pets -p pets-bench
exec target/release/pets-bench "$@"
