#!/usr/bin/env bash
# Builds every image the stacks need on an engine that cannot pull from a
# registry, and prints what it built:
#
#   pets-rust-local:bookworm     Debian bookworm with gcc and this machine's Rust
#                                toolchain: stands in for rust:*-slim-bookworm
#   pets-runtime-local:bookworm  glibc and libgcc only, with a non-root user:
#                                stands in for gcr.io/distroless/cc-debian12
#   pets:1.0 pets:2.0 pets:broken
#                                from ./Dockerfile, on the two images above
#   consul-local:1.8.7           Debian's consul binary and what it links
#   prometheus-local:bookworm    Debian's prometheus binary: stands in for
#                                prom/prometheus in the dev stack
#   haproxy-local:2.6            Debian's haproxy 2.6: stands in for haproxy:2.6,
#                                the prod stack's router (pets-prod-haproxy.yml)
#   pets-debian-local:bookworm   the debootstrapped Debian root, as an image
#   pets-lab-node:bookworm       a Docker engine in a container: one Swarm
#                                node of the multi-node lab (scripts/lab-node)
#
# Usage: scripts/local-images.sh [--force]   (--force rebuilds the base images)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
tools="$root/.tools"
force=${1:-}

say() { printf '[local-images] %s\n' "$*"; }
fail() { printf '[local-images] error: %s\n' "$*" >&2; exit 1; }
have_image() { [ "$force" != --force ] && docker image inspect "$1" >/dev/null 2>&1; }

command -v docker >/dev/null || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer"
[ -x "$tools/consul/usr/bin/consul" ] || scripts/install-deps.sh

# Copies files, and every library they link, into a root file system.
copy_with_libraries() {
  local dest=$1; shift
  local file lib
  for file in "$@"; do
    cp -L --parents "$file" "$dest"
    for lib in $(ldd "$file" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*'); do
      cp -L --parents "$lib" "$dest"
    done
  done
}

# The skeleton of a minimal image: users, name resolution, a writable /tmp.
minimal_root() {
  local dest=$1
  mkdir -p "$dest/etc" "$dest/tmp" "$dest/home/nonroot"
  chmod 1777 "$dest/tmp"
  chown 65532:65532 "$dest/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dest/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
  printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
}

import_root() {
  local dir=$1 tag=$2; shift 2
  tar -C "$dir" -c . | docker import "$@" - "$tag" >/dev/null
  say "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}'))"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have_image pets-runtime-local:bookworm; then
  rootfs="$work/runtime"
  minimal_root "$rootfs"
  # What distroless/cc carries: the C library, libm, libgcc_s and the loader.
  for lib in libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1; do
    copy_with_libraries "$rootfs" "/lib/x86_64-linux-gnu/$lib"
  done
  copy_with_libraries "$rootfs" /lib64/ld-linux-x86-64.so.2
  import_root "$rootfs" pets-runtime-local:bookworm --change 'USER 65532:65532'
fi

# The debootstrapped Debian root (with gcc) that the build image and the
# lab's node image start from; made once under .tools.
base="$tools/rootfs-bookworm-build"
debian_root() {
  [ -x "$base/usr/bin/gcc" ] && return
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no Debian mirror found in the apt sources"
  say "debootstrapping Debian bookworm with gcc from $mirror"
  # Built beside, then moved in: an interrupted run leaves no half root.
  rm -rf "$base" "$base.partial"
  debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$base.partial" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  rm -rf "$base.partial/var/cache/apt/archives/"*.deb
  mv "$base.partial" "$base"
}

if ! have_image pets-rust-local:bookworm; then
  debian_root
  toolchain=$(rustc --print sysroot)
  say "adding the Rust toolchain from $toolchain ($(rustc --version))"
  rootfs="$work/rust"
  mkdir -p "$rootfs"
  cp -a "$base/." "$rootfs/"
  mkdir -p "$rootfs/usr/local/rust" "$rootfs/usr/local/cargo"
  cp -a "$toolchain/bin" "$toolchain/lib" "$rootfs/usr/local/rust/"
  # Trust what this machine trusts: where crates.io is reached through a
  # TLS-inspecting proxy, its CA is in the host's bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  import_root "$rootfs" pets-rust-local:bookworm \
    --change 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup'
fi

# --force-rm: a failed build leaves no stopped container holding its layers.
for version in 1.0 2.0 broken; do
  say "building pets:$version"
  docker build --force-rm \
    --build-arg RUST_IMAGE=pets-rust-local:bookworm \
    --build-arg RUNTIME_IMAGE=pets-runtime-local:bookworm \
    --build-arg PETS_VERSION="$version" \
    -t "pets:$version" . >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log" >&2; fail "docker build of pets:$version failed"; }
  say "built pets:$version ($(docker image inspect -f '{{.Size}}' "pets:$version" | awk '{printf "%.1f MB", $1/1e6}'))"
done

if ! have_image consul-local:1.8.7; then
  rootfs="$work/consul"
  minimal_root "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/consul/data" "$rootfs/consul/config"
  cp "$tools/consul/usr/bin/consul" "$rootfs/bin/consul"
  copy_with_libraries "$rootfs" $(ldd "$rootfs/bin/consul" | grep -oE '/[^ ]+\.so[^ ]*')
  chown -R 65532:65532 "$rootfs/consul"
  import_root "$rootfs" consul-local:1.8.7 \
    --change 'USER 65532:65532' \
    --change 'ENTRYPOINT ["/bin/consul"]' \
    --change 'CMD ["agent", "-dev", "-client=0.0.0.0"]' \
    --change 'EXPOSE 8300 8301 8302 8500 8600' \
    --change 'VOLUME /consul/data'
fi

if ! have_image prometheus-local:bookworm; then
  command -v prometheus >/dev/null || scripts/install-deps.sh
  rootfs="$work/prometheus"
  minimal_root "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/prometheus" "$rootfs/etc/prometheus"
  cp "$(command -v prometheus)" "$rootfs/bin/prometheus"
  copy_with_libraries "$rootfs" $(ldd "$rootfs/bin/prometheus" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' || true)
  chown -R 65532:65532 "$rootfs/prometheus"
  import_root "$rootfs" prometheus-local:bookworm \
    --change 'USER 65532:65532' \
    --change 'ENTRYPOINT ["/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
    --change 'EXPOSE 9090' \
    --change 'VOLUME /prometheus'
fi

if ! have_image haproxy-local:2.6; then
  [ -x /usr/sbin/haproxy ] || scripts/install-deps.sh
  rootfs="$work/haproxy"
  minimal_root "$rootfs"
  mkdir -p "$rootfs/usr/local/sbin" "$rootfs/usr/local/etc/haproxy"
  # Where the official image has it, so the stack's entrypoint runs either.
  cp /usr/sbin/haproxy "$rootfs/usr/local/sbin/haproxy"
  copy_with_libraries "$rootfs" $(ldd /usr/sbin/haproxy | grep -oE '/[^ ]+\.so[^ ]*')
  import_root "$rootfs" haproxy-local:2.6 \
    --change 'USER 65532:65532' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENTRYPOINT ["haproxy"]' \
    --change 'CMD ["-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]' \
    --change 'EXPOSE 8080 8443'
fi

# The multi-node lab's Swarm node: Debian's docker.io on the same root.
if ! have_image pets-lab-node:bookworm; then
  if ! have_image pets-debian-local:bookworm; then
    debian_root
    import_root "$base" pets-debian-local:bookworm
  fi
  say "building pets-lab-node:bookworm (Debian's docker.io, iptables, iproute2)"
  docker build --force-rm -t pets-lab-node:bookworm scripts/lab-node >"$work/node.log" 2>&1 ||
    { tail -40 "$work/node.log" >&2; fail "docker build of pets-lab-node:bookworm failed"; }
  say "built pets-lab-node:bookworm ($(docker image inspect -f '{{.Size}}' pets-lab-node:bookworm | awk '{printf "%.1f MB", $1/1e6}'))"
fi

say "images ready:"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E '^(pets|pets-rust-local|pets-runtime-local|pets-debian-local|pets-lab-node|consul-local|prometheus-local|haproxy-local):' | sort | sed 's/^/  /'

