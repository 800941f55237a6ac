#!/usr/bin/env bash
# The whole flow8 stack on this machine, and its main job shown end to end:
#   1. installs what is missing (scripts/setup.sh) and starts Kafka (KRaft), PostgreSQL and
#      Redis on loopback, all TLS (scripts/stack/up.sh);
#   2. migrates each service's database and starts auth and audit-ingest (mTLS, logs under
#      .flow8/logs/);
#   3. does the main job: the platform operator creates a company and its first admin in auth;
#      the events cross Kafka and land in the hash-chained audit ledger; the ledger is verified
#      online, a signed checkpoint is taken, the NDJSON export is downloaded and verified
#      OFFLINE with nothing but the public key.
# Services keep running afterwards; stop everything with scripts/stop.sh.
#
# Env: FLOW8_AUTH_PORT (8101), FLOW8_AUDIT_PORT (8104), LOG_LEVEL (info),
#      OTEL_EXPORTER_OTLP_ENDPOINT (unset: spans are not exported).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$FLOW8_REPO_ROOT"

bash scripts/setup.sh
bash scripts/stack/up.sh --quiet
STATE="${FLOW8_STATE_DIR:-$FLOW8_REPO_ROOT/.flow8}"
set -a
# shellcheck disable=SC1091
source "$STATE/stack.env"
set +a
mkdir -p "$STATE/logs" "$STATE/run" "$STATE/secrets"

AUTH_PORT="${FLOW8_AUTH_PORT:-8101}"
AUDIT_PORT="${FLOW8_AUDIT_PORT:-8104}"

# Development secrets: generated once, kept in the state dir (mode 600), never committed.
signing_key="$STATE/secrets/audit-signing.key"
[[ -s "$signing_key" ]] || (openssl rand -base64 32 >"$signing_key" && chmod 600 "$signing_key")
operator_password_file="$STATE/secrets/demo-admin.password"
identity_key="$STATE/secrets/gateway-identity.key"
[[ -s "$identity_key" ]] || (openssl rand -base64 32 >"$identity_key" && chmod 600 "$identity_key")
identity_public_key="$(node_modules/.bin/tsx scripts/lib/identity-token.ts public-key "$identity_key")"
[[ -s "$operator_password_file" ]] || (printf 'Fl8-%s' "$(openssl rand -hex 12)" >"$operator_password_file" && chmod 600 "$operator_password_file")

log "migrating databases"
pnpm -s --filter @flow8/auth migrate >"$STATE/logs/migrate-auth.log" 2>&1 || die auth "migrations failed" "$STATE/logs/migrate-auth.log"
pnpm -s --filter @flow8/audit-ingest migrate >"$STATE/logs/migrate-audit.log" 2>&1 \
  || die audit-ingest "migrations failed" "$STATE/logs/migrate-audit.log"

# start_service <name> <port> <env...>
start_service() {
  local name="$1" port="$2"; shift 2
  local pidfile="$STATE/run/$name.pid" logfile="$STATE/logs/$name.log"
  if pid="$(pid_from_file "$pidfile")" && kill -0 "$pid" 2>/dev/null; then
    log "$name: already running (pid $pid)"
  else
    log "$name: starting on https://localhost:$port"
    (cd "services/$name" && env "$@" PORT="$port" TLS_CERT_FILE="$FLOW8_CERTS_DIR/$name.pem" \
      TLS_KEY_FILE="$FLOW8_CERTS_DIR/$name-key.pem" LOG_LEVEL="${LOG_LEVEL:-info}" \
      setsid nohup ../../node_modules/.bin/tsx src/main.ts >>"$logfile" 2>&1 &
      echo $! >"$pidfile") </dev/null >/dev/null 2>&1
  fi
  wait_for 60 curl -sf --cacert "$FLOW8_CA_FILE" --cert "$FLOW8_CERTS_DIR/operator.pem" \
    --key "$FLOW8_CERTS_DIR/operator-key.pem" "https://localhost:$port/readyz" \
    || die "$name" "not ready on port $port within 60 s" "$logfile"
  ok "$name: ready"
}

start_service audit-ingest "$AUDIT_PORT" AUDIT_DATABASE_URL="$AUDIT_DATABASE_URL" AUDIT_SIGNING_KEY_FILE="$signing_key" \
  AUDIT_ALLOWED_CALLERS=gateway,operator INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key"
start_service auth "$AUTH_PORT" AUTH_DATABASE_URL="$AUTH_DATABASE_URL" AUTH_ALLOWED_CALLERS=gateway \
  INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key" REDIS_URL="$REDIS_URL"

log "main job: the platform operator creates a company and its first admin"
slug="demo-$(date +%s)"
FLOW8_ADMIN_PASSWORD="$(cat "$operator_password_file")" node_modules/.bin/tsx services/auth/src/cli/create-tenant.ts \
  --url "https://localhost:$AUTH_PORT" --name "Demo Law LLP" --slug "$slug" --admin-email "admin@$slug.example" \
  >"$STATE/run/demo-tenant.json" || die demo "creating the demo company failed" "$STATE/logs/auth.log"
tenant_id="$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(j.tenant?.id ?? j.tenantId)' "$STATE/run/demo-tenant.json")"
ok "company $tenant_id created"

audit_curl() { # audit_curl <path> [curl args...]
  local path="$1"; shift
  curl -sf --cacert "$FLOW8_CA_FILE" --cert "$FLOW8_CERTS_DIR/operator.pem" --key "$FLOW8_CERTS_DIR/operator-key.pem" \
    -H "x-flow8-identity: $(node_modules/.bin/tsx scripts/lib/identity-token.ts "$identity_key" "$tenant_id" audit-ingest)" \
    "$@" "https://localhost:$AUDIT_PORT$path"
}

log "waiting for the events to reach the audit ledger through Kafka"
wait_for 60 bash -c "$(declare -f audit_curl); tenant_id=$tenant_id FLOW8_CA_FILE=$FLOW8_CA_FILE FLOW8_CERTS_DIR=$FLOW8_CERTS_DIR AUDIT_PORT=$AUDIT_PORT identity_key=$identity_key; \
  audit_curl '/v1/audit/events?type=identity.user.created' | grep -q identity.user.created" \
  || die demo "the company's events did not reach the ledger within 60 s" "$STATE/logs/audit-ingest.log"
audit_curl '/v1/audit/events?limit=10' >"$STATE/run/demo-events.json"
ok "ledger entries: $(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(j.items.map(i=>`#${i.seq} ${i.type}`).join(", "))' "$STATE/run/demo-events.json")"

audit_curl /v1/audit/checkpoints -X POST >/dev/null || die demo "checkpoint failed" "$STATE/logs/audit-ingest.log"
verify="$(audit_curl /v1/audit/verify)" || die demo "online verify failed" "$STATE/logs/audit-ingest.log"
ok "online verification: $verify"
export_file="$STATE/run/audit-export-$tenant_id.ndjson"
audit_curl '/v1/audit/export?format=ndjson' -o "$export_file" || die demo "export failed" "$STATE/logs/audit-ingest.log"
public_key="$(audit_curl /v1/audit/checkpoints | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).publicKeys[0].publicKey))')"
log "offline verification of $export_file (no server access, only the public key)"
pnpm -s audit:verify --export "$export_file" --public-key "$public_key" || die demo "offline verification failed"

cat <<EOT

flow8 is up:
  auth           https://localhost:$AUTH_PORT   (mTLS; logs $STATE/logs/auth.log)
  audit-ingest   https://localhost:$AUDIT_PORT   (mTLS; logs $STATE/logs/audit-ingest.log)
  Kafka SSL      $KAFKA_BROKERS    PostgreSQL TLS localhost:$PGPORT    Redis TLS $(echo "$REDIS_URL" | sed 's/.*@//')
  demo company   $tenant_id   (export: $export_file)
Verify any export yourself:  pnpm audit:verify --export <file.ndjson> --public-key $public_key
Stop everything:             ./scripts/stop.sh
EOT
