#!/usr/bin/env bash
# Makes what the prod stack's Consul needs, and stores it as Swarm secrets on
# the manager the docker command talks to (DOCKER_HOST, or the local engine):
#
#   scripts/consul-secrets.sh DIR
#
# DIR keeps a copy, readable by you alone; keep it safe (a password manager,
# a vault): management.token is Consul's operator token, for backups,
# recovery and rotating the others.
#
#   DIR/management.token   -> pets_consul_management_token  (consul-acl job)
#   DIR/consul-server.hcl  -> pets_consul_server_hcl        (the servers: ACLs
#                             on with default deny, the management token, the
#                             agent token, the gossip encryption key)
#   DIR/agent.token        -> pets_consul_agent_token       (consul-acl job: the
#                             servers' own token, node writes only)
#   DIR/web.token          -> pets_consul_web_token         (pets serve)
#   DIR/load.token         -> pets_consul_load_token        (pets load)
#
# Token secrets are random UUIDs, the key 32 random bytes in base64. A file
# already in DIR is used as it is, and a secret that already exists is left
# alone, so running it again changes nothing. Rotating a token is in
# docs/SECURITY.md#consuls-acls.
set -euo pipefail

fail() { printf '[consul-secrets] error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || fail "usage: scripts/consul-secrets.sh DIR (for example: scripts/consul-secrets.sh ~/pets-consul)"
dir=$1
command -v docker >/dev/null || fail "docker is not installed"
mkdir -p "$dir"
umask 077

uuid() { cat /proc/sys/kernel/random/uuid; }
for role in management web load agent; do
  [ -s "$dir/$role.token" ] || uuid > "$dir/$role.token"
done
[ -s "$dir/gossip.key" ] || head -c 32 /dev/urandom | base64 > "$dir/gossip.key"
if [ ! -s "$dir/consul-server.hcl" ]; then
  management=$(head -n1 "$dir/management.token")
  cat > "$dir/consul-server.hcl" <<HCL
# Consul's servers in the pets prod stack (made by scripts/consul-secrets.sh).
encrypt = "$(head -n1 "$dir/gossip.key")"
acl {
  enabled = true
  default_policy = "deny"
  # A server cut off from the leader keeps the tokens it knows.
  down_policy = "extend-cache"
  enable_token_persistence = true
  tokens {
    master = "$management"
    # The servers' own work (their catalog entries and coordinates), with a
    # token that can do that and nothing else; the consul-acl job makes it.
    agent = "$(head -n1 "$dir/agent.token")"
  }
}
HCL
elif grep -qF "agent = \"$(head -n1 "$dir/management.token")\"" "$dir/consul-server.hcl"; then
  printf '[consul-secrets] note: %s names the management token as the servers'"'"' agent token;\n' "$dir/consul-server.hcl"
  printf '[consul-secrets] docs/SECURITY.md#consuls-acls says how to move them to %s\n' "$dir/agent.token"
fi

create() {
  local name=$1 file=$2
  if docker secret inspect "$name" >/dev/null 2>&1; then
    printf '[consul-secrets] %s exists; left as it is\n' "$name"
  else
    docker secret create "$name" "$file" >/dev/null
    printf '[consul-secrets] %s created\n' "$name"
  fi
}
create pets_consul_management_token "$dir/management.token"
create pets_consul_server_hcl "$dir/consul-server.hcl"
create pets_consul_web_token "$dir/web.token"
create pets_consul_load_token "$dir/load.token"
create pets_consul_agent_token "$dir/agent.token"
