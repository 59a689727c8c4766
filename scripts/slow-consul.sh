#!/bin/sh
# Consul on a slow disk, for the benchmark: every fsync and fdatasync of the
# servers is held DELAY_US microseconds longer (default 500) by strace's
# fault injection, which stops Consul only at those calls (--seccomp-bpf).
# A slow day's disk, made on purpose:
#
#   CONSUL_BIN=scripts/slow-consul.sh DELAY_US=500 target/release/pets-bench --connections 64
#
# The benchmark's Consul CPU figures are strace's under this wrapper, not
# Consul's: read only the rates from such a run. See docs/PERFORMANCE.md.
set -eu
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
command -v strace >/dev/null 2>&1 || {
  echo "slow-consul.sh: strace is not installed (apt-get install strace)" >&2
  exit 1
}
here=$(cd "$(dirname "$0")/.." && pwd)
consul="${CONSUL_REAL_BIN:-$here/.tools/consul/usr/bin/consul}"
[ -x "$consul" ] || {
  echo "slow-consul.sh: no Consul at $consul (run scripts/install-deps.sh)" >&2
  exit 1
}
exec strace -f --seccomp-bpf -qq -o /dev/null \
  -e trace=fsync,fdatasync \
  -e inject=fsync,fdatasync:delay_exit="${DELAY_US:-500}" \
  "$consul" "$@"
