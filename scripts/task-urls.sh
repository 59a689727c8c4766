#!/usr/bin/env bash
# Where each task of a stack answers, for an engine without Swarm's routing
# mesh (no IPVS in the kernel: published ports refuse connections there).
# Every task on an overlay network also sits on this machine's
# docker_gwbridge, so this machine reaches it at that address directly; a
# task on the node's own network (the prod stack's Consul) is at the node's.
#
# Usage: scripts/task-urls.sh [STACK]     (default: pets)
set -euo pipefail
stack=${1:-pets}

if [ -d /proc/sys/net/ipv4/vs ]; then
  echo "# This kernel has IPVS: the routing mesh works, and published ports answer on every node"
  echo "# (http://localhost:5000, http://localhost:7000). The tasks' own addresses work too:"
else
  echo "# No IPVS in this kernel (/proc/sys/net/ipv4/vs is missing): the routing mesh does not"
  echo "# work, so published ports refuse connections. Reach each task at its address instead:"
fi

bridge=$(docker network inspect docker_gwbridge --format '{{json .Containers}}' 2>/dev/null || echo '{}')
found=0
for service in $(docker stack services "$stack" --format '{{.Name}}' 2>/dev/null | sort); do
  for id in $(docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$service"); do
    read -r name mode sandbox < <(docker inspect \
      -f '{{.Name}} {{.HostConfig.NetworkMode}} {{.NetworkSettings.SandboxID}}' "$id")
    name=${name#/}
    if [ "$mode" = host ]; then
      # On the node's own network (the prod stack's Consul): the node's address.
      ip=$(docker info -f '{{.Swarm.NodeAddr}}')
    else
      endpoint="gateway_${sandbox:0:12}"
      ip=$(printf '%s' "$bridge" | tr '{' '\n' | grep -F "\"Name\":\"$endpoint\"" |
        sed -n 's/.*"IPv4Address":"\([0-9.]*\)\/.*/\1/p' | head -n1)
    fi
    [ -n "$ip" ] || { echo "$name  (not on docker_gwbridge yet)"; continue; }
    found=$((found + 1))
    case "$service" in
      *_web) echo "$name  pets http://$ip:5000/  console http://$ip:7000/" ;;
      *_db) echo "$name  consul http://$ip:8500/ui/" ;;
      *_prometheus) echo "$name  prometheus http://$ip:9090/" ;;
      *) echo "$name  $ip" ;;
    esac
  done
done
[ "$found" -gt 0 ] || echo "no running task of stack '$stack' on this engine (docker stack ps $stack)"
