#!/usr/bin/env bash
# Fuzzes the parsers that read what a client sends (the ballot form, the
# cookies, the forwarding headers, a whole vote), each for a bounded time, with libFuzzer
# through cargo fuzz. Fails if any input panics, hangs or exhausts memory.
#   scripts/fuzz.sh                 60 s per target
#   scripts/fuzz.sh --seconds 20    what CI runs
# Installs cargo-fuzz from crates.io when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
if [ "${1:-}" = --seconds ]; then seconds=${2:?--seconds takes a number}; fi

say() { printf '[fuzz] %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

cd fuzz
for target in vote_form cookies forwarded vote; do
  say "$target for ${seconds}s"
  mkdir -p "corpus/$target"
  # No sanitizer: this toolchain is stable, and the code is safe Rust; a
  # panic, a hang (-timeout) or a blow-up in memory (-rss_limit_mb) fails.
  cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 2>&1 |
    grep -E '^(#[0-9]+ *DONE|Done|stat::number_of_executed_units|INFO: seed corpus|==[0-9]+== ERROR|thread .* panicked|SUMMARY)' || true
  # grep only trims the output; cargo fuzz's own status decides.
  [ "${PIPESTATUS[0]}" = 0 ] || { say "$target failed: see fuzz/artifacts/$target"; exit 1; }
done
say "no input broke a parser"
