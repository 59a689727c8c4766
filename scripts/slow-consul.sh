#!/bin/sh
# Consul on a slow disk, for the benchmark: every fsync and fdatasync of the
# servers is held DELAY_US microseconds longer (default 500) by strace's
# fault injection, which stops Consul at no other call (--seccomp-bpf).
# A slow day's disk, made on purpose:
#
#   CONSUL_BIN=scripts/slow-consul.sh DELAY_US=500 target/release/pets-bench --connections 64
#
# Under this wrapper the benchmark's Consul CPU and memory figures are
# strace's, not Consul's: read only the rates. CONSUL_REAL_BIN names another
# program to run in Consul's place. See docs/PERFORMANCE.md.
set -eu
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
for tool in strace setpriv; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "slow-consul.sh: $tool is not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done
here=$(cd "$(dirname "$0")/.." && pwd)
consul="${CONSUL_REAL_BIN:-$here/.tools/consul/usr/bin/consul}"
[ -x "$consul" ] || {
  echo "slow-consul.sh: no Consul at $consul (run scripts/install-deps.sh)" >&2
  exit 1
}
# The caller kills strace (the benchmark's cluster does, with SIGKILL);
# Consul dies with it rather than run on, detached, with its syncs refused.
exec strace -f --seccomp-bpf -qq -o /dev/null \
  -e trace=fsync,fdatasync \
  -e inject=fsync,fdatasync:delay_exit="${DELAY_US:-500}" \
  setpriv --pdeathsig KILL -- "$consul" "$@"
