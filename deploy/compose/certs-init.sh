#!/bin/sh
# docker-compose one-shot: generate (or reuse) the environment PKI with scripts/stack/certs.sh
# into the `pki` volume, then lay out per-consumer copies owned by each container's user:
#   /pki/postgres (uid 999, postgres:15)  /pki/redis (uid 999, redis:7)
#   /pki/kafka    (uid 1000, apache/kafka) /pki/<name> (uid 1000, node user of deploy/Dockerfile)
set -eu
apk add --no-cache bash openssl >/dev/null
FLOW8_STATE_DIR=/pki/state bash /repo/scripts/stack/certs.sh
C=/pki/state/certs

layout() { # layout <dir> <uid> <files...>
  dir="$1"; uid="$2"; shift 2
  mkdir -p "$dir"
  for f in "$@"; do cp "$C/$f" "$dir/$f"; done
  chown -R "$uid:$uid" "$dir"
  chmod 700 "$dir"
  chmod 600 "$dir"/*
}

layout /pki/postgres 999 ca.pem server.pem server-key.pem
layout /pki/redis 999 ca.pem server.pem server-key.pem operator.pem operator-key.pem

mkdir -p /pki/kafka
cat "$C/kafka-broker-key.pem" "$C/kafka-broker.pem" "$C/ca.pem" >/pki/kafka/keystore.pem
cat "$C/operator-key.pem" "$C/operator.pem" "$C/ca.pem" >/pki/kafka/client-keystore.pem
cp "$C/ca.pem" /pki/kafka/ca.pem
cat >/pki/kafka/client.properties <<PROPS
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=/pki/kafka/client-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=/pki/kafka/ca.pem
PROPS
chown -R 1000:1000 /pki/kafka && chmod 700 /pki/kafka && chmod 600 /pki/kafka/*

for n in gateway auth credential-vault audit-ingest testkit operator kafka-admin; do
  layout "/pki/$n" 1000 ca.pem "$n.pem" "$n-key.pem"
done
echo "certs-init: PKI ready"
