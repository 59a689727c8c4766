#!/usr/bin/env bash
# Puts this machine back to the state a fresh one has, as far as the test
# suite is concerned, so that `.ci/run` can be proved from scratch. Removes
# only what the suite itself creates, by name or by its label
# `org.pets.test`:
#
#   the `petstest` stack, its containers, networks and volumes;
#   containers labelled org.pets.test (the image test's, the multi-node
#   lab's Swarm nodes, an interrupted run's), and the networks and volumes
#   with that label (the lab's bridge network and its nodes' engine data);
#   the Swarm, if the suite made it (its node carries the label), and then
#   docker_gwbridge, which the engine made for that Swarm's first task;
#   the images scripts/local-images.sh builds, and the build cache they left;
#   Pets-as-a-Service instances the tests made (service name test-*): their
#   containers, networks and volumes;
#   Consul test clusters and benchmark processes an interrupted run left;
#   .tools/ (Consul, the debootstrapped root).
#
# A Swarm this suite did not make is left as it is, unless --leave-swarm.
# Usage: scripts/reset-engine.sh [--leave-swarm]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stack=petstest
label=org.pets.test
images=(pets:1.0 pets:2.0 pets:broken pets-rust-local:bookworm pets-runtime-local:bookworm consul-local:1.8.7 prometheus-local:bookworm pets-lab-node:bookworm pets-debian-local:bookworm)
leave_any_swarm=${1:-}

say() { printf '[reset-engine] %s\n' "$*"; }

command -v docker >/dev/null || { say "docker is not installed: nothing to reset there"; exit 0; }
docker info >/dev/null 2>&1 || { echo "[reset-engine] error: the Docker engine does not answer" >&2; exit 1; }

swarm_state() { docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

if [ "$(swarm_state)" = active ] && docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$stack"; then
  say "removing stack $stack"
  docker stack rm "$stack" >/dev/null
fi
for _ in $(seq 1 120); do
  left=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")
  [ -z "$left" ] && break
  sleep 0.5
done
ids=$( (docker ps -aq --filter "label=com.docker.stack.namespace=$stack"; docker ps -aq --filter "label=$label") | sort -u)
if [ -n "$ids" ]; then
  say "removing containers: $(echo "$ids" | wc -l)"
  # shellcheck disable=SC2086
  docker rm -f $ids >/dev/null
fi

if [ "$(swarm_state)" != inactive ]; then
  ours=$(docker node inspect self -f "{{index .Spec.Labels \"$label\"}}" 2>/dev/null || true)
  if [ -n "$ours" ] && [ "$ours" != "<no value>" ] || [ "$leave_any_swarm" = --leave-swarm ]; then
    say "leaving the Swarm"
    docker swarm leave --force >/dev/null
  else
    say "left alone: this engine's Swarm was not made by the test suite (--leave-swarm leaves it anyway)"
  fi
fi

# Pets as a Service: what its tests made (each test's service is test-<id>).
paas_service=org.pets.paas.service
for kind in container network volume; do
  case $kind in
    container) listed=$(docker ps -aq --filter "label=$paas_service") ;;
    network) listed=$(docker network ls -q --filter "label=$paas_service") ;;
    volume) listed=$(docker volume ls -q --filter "label=$paas_service") ;;
  esac
  for item in $listed; do
    owner=$(docker "$kind" inspect -f "{{index .Labels \"$paas_service\"}}" "$item" 2>/dev/null || true)
    case $owner in
      test-*)
        say "removing a test's Pets-as-a-Service $kind"
        docker "$kind" rm -f "$item" >/dev/null 2>&1 || docker "$kind" rm "$item" >/dev/null 2>&1 || true ;;
    esac
  done
done

for network in $(docker network ls --format '{{.Name}}' | grep -E "^${stack}_" || true); do
  say "removing network $network"
  docker network rm "$network" >/dev/null || true
done
if [ "$(swarm_state)" = inactive ] && docker network inspect docker_gwbridge >/dev/null 2>&1; then
  say "removing docker_gwbridge"
  docker network rm docker_gwbridge >/dev/null || true
fi
for network in $(docker network ls -q --filter "label=$label"); do
  say "removing network $(docker network inspect -f '{{.Name}}' "$network")"
  docker network rm "$network" >/dev/null || true
done
for volume in $(docker volume ls -q --filter "label=$label"); do
  say "removing volume $volume"
  docker volume rm "$volume" >/dev/null || true
done
for volume in $(docker volume ls -q --filter "name=${stack}_"); do
  say "removing volume $volume"
  docker volume rm "$volume" >/dev/null || true
done

for image in "${images[@]}"; do
  if docker image inspect "$image" >/dev/null 2>&1; then
    say "removing image $image"
    docker image rm -f "$image" >/dev/null
  fi
done
# What those builds left: dangling layers and the builder's cache.
docker image prune -f >/dev/null
docker builder prune -af >/dev/null 2>&1 || true

# Processes an interrupted run left: test Consul clusters and the benchmark's.
pkill -f 'pets-consul-[0-9]+/s' 2>/dev/null || true
pkill -f 'pets-bench' 2>/dev/null || true

if [ -d "$root/.tools" ]; then
  say "removing $root/.tools"
  rm -rf "$root/.tools"
fi
say "done: $(docker images -q | wc -l) images, $(docker volume ls -q | wc -l) volumes, swarm $(swarm_state)"
