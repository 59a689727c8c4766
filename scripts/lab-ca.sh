#!/usr/bin/env bash
# Makes the lab's own certificate authority and, signed by it, a certificate
# for pets.<domain> and admin.<domain>, for the prod stack's router:
#
#   scripts/lab-ca.sh DOMAIN DIR
#
# writes DIR/ca.pem (trust this: pets load --ca-cert, curl --cacert, or a
# browser's authorities), DIR/ca.key (keep it, or delete it once the site's
# certificate is made), DIR/site.pem and DIR/site.key (the Swarm secrets
# pets_tls_cert and pets_tls_key). Valid for 30 days; P-256 keys. A real
# site uses a certificate from a public CA instead: see docs/DEPLOYING.md.
set -euo pipefail

fail() { printf '[lab-ca] error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || fail "usage: scripts/lab-ca.sh DOMAIN DIR (for example: scripts/lab-ca.sh example.com lab-ca)"
domain=$1 dir=$2
[[ "$domain" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "not a domain name: $domain"
command -v openssl >/dev/null || fail "openssl is not installed (apt-get install openssl)"
mkdir -p "$dir"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=pets lab CA for $domain" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=pets.$domain" -keyout "$dir/site.key" -out "$dir/site.csr" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:pets.$domain,DNS:admin.$domain" \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" >"$dir/site.ext"
openssl x509 -req -in "$dir/site.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -CAcreateserial -days 30 -extfile "$dir/site.ext" -out "$dir/site.pem" 2>/dev/null
rm -f "$dir/site.csr" "$dir/site.ext" "$dir/ca.srl"
chmod 644 "$dir/ca.pem" "$dir/site.pem"
openssl verify -CAfile "$dir/ca.pem" "$dir/site.pem" >/dev/null || fail "the new certificate does not verify"
printf '[lab-ca] %s: CA %s, certificate for pets.%s and admin.%s (%s, key %s)\n' \
  "$dir" "$dir/ca.pem" "$domain" "$domain" "$dir/site.pem" "$dir/site.key"
