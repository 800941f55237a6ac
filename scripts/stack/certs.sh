#!/usr/bin/env bash
# Generates (or reuses) the per-environment PKI of the local stack in $STATE/certs:
#   ca.pem / ca-key.pem                EC P-256 CA, 10 years
#   server.pem / server-key.pem        SAN DNS:localhost, IP:127.0.0.1, IP:::1 (+ DNS:postgres,
#                                      DNS:kafka, DNS:redis for docker-compose); serverAuth+clientAuth
#   kafka-broker.pem / -key.pem        CN=kafka-broker, the broker's own certificate (Kafka super user)
#   <name>.pem / <name>-key.pem        CN=<name>, SAN DNS:localhost, IP:127.0.0.1 (+ DNS:<name>, the
#                                      compose service name); clientAuth+serverAuth
#                                      for every name in FLOW8_CERT_NAMES (scripts/lib/common.sh)
# Existing files are reused unless missing, not signed by the current CA, expiring within
# 30 days, or issued with a different profile (CN/SAN/EKU, recorded in <name>.profile). A CA that is missing or expiring regenerates everything. Keys are mode 600.
# Usage: scripts/stack/certs.sh   (FLOW8_STATE_DIR selects the state dir)
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

need_cmd certificates openssl
ensure_state_dir
CERTS="$FLOW8_STATE/certs"
mkdir -p "$CERTS"
chmod 755 "$CERTS"  # certificates are public; every *-key.pem is 600

RENEW_BEFORE=$((30 * 86400))
LEAF_DAYS=825
CA_DAYS=3650

new_key() { # new_key <file>
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null \
    || die certificates "could not generate key $1"
  chmod 600 "$1"
}

valid_cert() { # valid_cert <cert> <key>: present, signed by our CA, not expiring, matching key
  local cert="$1" key="$2"
  [[ -s "$cert" && -s "$key" ]] || return 1
  openssl x509 -in "$cert" -noout -checkend "$RENEW_BEFORE" >/dev/null 2>&1 || return 1
  [[ "$cert" == "$CERTS/ca.pem" ]] || openssl verify -CAfile "$CERTS/ca.pem" "$cert" >/dev/null 2>&1 || return 1
  [[ "$(openssl x509 -in "$cert" -noout -pubkey 2>/dev/null)" == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]]
}

generated=0

# --- CA -------------------------------------------------------------------------------------
if ! valid_cert "$CERTS/ca.pem" "$CERTS/ca-key.pem"; then
  log "certificates: generating a new CA in $CERTS"
  # A new CA invalidates every leaf.
  rm -f "$CERTS"/*.pem "$CERTS"/*.srl "$CERTS"/*.profile
  new_key "$CERTS/ca-key.pem"
  openssl req -x509 -new -key "$CERTS/ca-key.pem" -sha256 -days "$CA_DAYS" \
    -subj "/O=flow8 local/CN=flow8 local CA $(hostname -s 2>/dev/null || echo host) $(date +%Y%m%d%H%M%S)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$CERTS/ca.pem" 2>/dev/null || die certificates "could not create the CA certificate"
  chmod 644 "$CERTS/ca.pem"
  generated=$((generated + 1))
fi

# --- leaf certificates ------------------------------------------------------------------------
issue() { # issue <name> <cn> <san> <eku>
  local name="$1" cn="$2" san="$3" eku="$4"
  local cert="$CERTS/$name.pem" key="$CERTS/$name-key.pem" profile="$cn|$san|$eku"
  if valid_cert "$cert" "$key" && [[ "$(cat "$CERTS/$name.profile" 2>/dev/null)" == "$profile" ]]; then
    return 0
  fi
  local ext csr
  ext="$(mktemp)" csr="$(mktemp)"
  cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=$eku
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  new_key "$key"
  openssl req -new -key "$key" -subj "/O=flow8 local/CN=$cn" -out "$csr" 2>/dev/null \
    || die certificates "could not create CSR for $name"
  openssl x509 -req -in "$csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" -CAcreateserial \
    -CAserial "$CERTS/ca.srl" -days "$LEAF_DAYS" -sha256 -extfile "$ext" -out "$cert" 2>/dev/null \
    || die certificates "could not sign certificate for $name"
  chmod 644 "$cert"
  printf '%s\n' "$profile" >"$CERTS/$name.profile"
  rm -f "$ext" "$csr"
  generated=$((generated + 1))
}

issue server localhost "DNS:localhost,DNS:postgres,DNS:kafka,DNS:redis,IP:127.0.0.1,IP:::1" "serverAuth,clientAuth"
# Kafka's own identity (its listeners, and itself as a client of its controller listener): a
# broker super user, so it is not the certificate PostgreSQL and Redis also hold.
issue kafka-broker kafka-broker "DNS:localhost,DNS:kafka,IP:127.0.0.1,IP:::1" "serverAuth,clientAuth"
for n in "${FLOW8_CERT_NAMES[@]}"; do
  issue "$n" "$n" "DNS:localhost,DNS:$n,IP:127.0.0.1" "clientAuth,serverAuth"
done
chmod 600 "$CERTS"/*-key.pem
# A certificate for something that no longer runs is a credential lying on the host: remove it
# (e.g. flow-engine and retention, issued by earlier versions of this script).
for profile in "$CERTS"/*.profile; do
  [[ -e "$profile" ]] || continue
  n="$(basename "$profile" .profile)"
  case " server kafka-broker ${FLOW8_CERT_NAMES[*]} " in *" $n "*) continue ;; esac
  rm -f "$CERTS/$n.pem" "$CERTS/$n-key.pem" "$profile"
  log "certificates: removed $n (no longer issued)"
done

if ((generated > 0)); then
  ok "certificates: issued $generated certificate(s) in $CERTS"
else
  ok "certificates: reusing $CERTS"
fi
