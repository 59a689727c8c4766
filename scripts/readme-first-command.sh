#!/usr/bin/env bash
# Runs the README's first command exactly as a new user types it: the first
# line of its first ```sh block, comment taken off, from the top of a
# checkout, in a shell of its own. Passes when http://127.0.0.1:5000/health
# answers 200 (the first run builds the release binary, so it may take
# minutes), then stops it. The README and this check cannot drift apart:
# whatever that line says is what runs.
#
# Usage: scripts/readme-first-command.sh [--timeout SECONDS]   (default 1200)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

timeout=1200
if [ "${1:-}" = --timeout ]; then timeout=$2; fi

say() { printf '[readme] %s\n' "$*"; }
fail() { printf '[readme] error: %s\n' "$*" >&2; exit 1; }

# The first line of the first ```sh block, without its comment.
line=$(awk '/^```sh$/ { inside = 1; next } inside { print; exit }' README.md)
command=${line%%#*}
command=$(printf '%s' "$command" | sed -e 's/[[:space:]]*$//')
[ -n "$command" ] || fail "README.md has no \`\`\`sh block with a command on its first line"
say "running, as README.md says: $command"

health() {
  # No curl needed: one HTTP/1.0 request over bash's /dev/tcp.
  local status
  exec 3<>/dev/tcp/127.0.0.1/5000 || return 1
  printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  read -r -t 5 status <&3 || true
  exec 3<&- 3>&-
  case "$status" in *" 200 "*) return 0 ;; *) return 1 ;; esac
}

if health 2>/dev/null; then
  fail "something already answers on port 5000; stop it first (the README's command serves there)"
fi

log=$(mktemp)
# A session of its own, so the whole tree (cargo and the app) stops together.
setsid bash -c "$command" >"$log" 2>&1 &
leader=$!
stop() {
  kill -TERM -- "-$leader" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$leader" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$leader" 2>/dev/null || true
}
trap 'stop; rm -f "$log"' EXIT

started=$SECONDS
until health 2>/dev/null; do
  if ! kill -0 "$leader" 2>/dev/null; then
    tail -n 30 "$log" >&2
    fail "\`$command\` exited before /health answered (its last lines above)"
  fi
  if [ $((SECONDS - started)) -ge "$timeout" ]; then
    tail -n 30 "$log" >&2
    fail "/health did not answer within ${timeout}s of \`$command\` (its last lines above)"
  fi
  sleep 1
done
say "http://127.0.0.1:5000/health answered 200 after $((SECONDS - started))s"
grep -m1 'pets started' "$log" | sed 's/^/[readme] /' || true
