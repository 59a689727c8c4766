#!/bin/sh
# Starts this node's Docker engine with the arguments given (the lab passes
# each node its own address pool), then lets the machine that runs the lab
# reach tasks on this node's docker_gwbridge: Docker's forwarding rules only
# admit published ports, so DOCKER-USER accepts what comes in on eth0. The
# engine also listens on plain TCP 2375, for the lab's private network only.
set -eu

dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false \
  --storage-driver=overlay2 "$@" &
engine=$!
trap 'kill -TERM "$engine" 2>/dev/null' TERM INT

tries=0
until iptables -n -L DOCKER-USER >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ] || ! kill -0 "$engine" 2>/dev/null; then
    echo "lab-node: the engine did not start" >&2
    exit 1
  fi
  sleep 0.1
done
iptables -I DOCKER-USER -i eth0 -j ACCEPT
echo "lab-node: engine up, tasks reachable from eth0"

# Waits for the engine; a trapped signal interrupts wait, so wait again.
status=0
while kill -0 "$engine" 2>/dev/null; do
  wait "$engine" || status=$?
done
exit "$status"
