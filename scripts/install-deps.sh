#!/usr/bin/env bash
# Installs what the test suite and benchmark need on a fresh Debian machine:
# chromium and chromium-driver (browser tests), zbar-tools (the QR code
# test's decoder), wrk and nginx-light (benchmark),
# prometheus and promtool (metrics tests), debootstrap (local base images),
# haproxy (the prod stack's router, made into a local image, and the lab's
# TLS tests), openssl (the lab's CA), strace (scripts/slow-consul.sh's slow disk),
# and Consul 1.8.7 from Debian's bullseye
# suite, unpacked under .tools/consul. Safe to run again: it skips what is there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
consul_bin="$tools/consul/usr/bin/consul"

say() { printf '[install-deps] %s\n' "$*"; }
fail() { printf '[install-deps] error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || fail "$1 is missing, and installing it needs root: run this as root, or install it yourself"; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v python3 >/dev/null || missing+=(python3)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v openssl >/dev/null || missing+=(openssl)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
command -v strace >/dev/null || missing+=(strace)
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  need_root "${missing[*]}"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# shellcheck source=lib/debian.sh
. "$root/scripts/lib/debian.sh"

if [ ! -x "$consul_bin" ]; then
  need_root "consul (fetched with apt-get)"
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no Debian mirror found in the apt sources"
  say "fetching consul from the bullseye suite of $mirror"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$keyring] $mirror bullseye main" >"$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download consul >/dev/null)
  # Unpacked beside, then moved in: an interrupted run leaves no half binary.
  rm -rf "$tools/consul" "$tools/consul.partial"
  mkdir -p "$tools/consul.partial"
  dpkg-deb -x "$work"/consul_*.deb "$tools/consul.partial"
  mv "$tools/consul.partial" "$tools/consul"
fi
# Read the whole output first: `consul version | head` can kill consul with
# SIGPIPE, and under pipefail that would look like a failure.
consul_version=$("$consul_bin" version)
consul_version=${consul_version%%$'\n'*}
case "$consul_version" in
  "Consul v1.8."*) ;;
  *) fail "unexpected consul at $consul_bin: $consul_version" ;;
esac
say "consul: $consul_version at $consul_bin"
say "chromium: $(chromium --version 2>/dev/null)"
say "wrk, nginx, debootstrap, zbarimg, openssl, strace: present"
say "haproxy: $(/usr/sbin/haproxy -v 2>/dev/null | head -n1)"
say "prometheus: $(prometheus --version 2>&1 | head -n1 || true)"
