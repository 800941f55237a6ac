#!/usr/bin/env bash
# The whole flow8 stack on this machine, and its main job shown end to end:
#   1. installs what is missing (scripts/setup.sh) and starts Kafka (KRaft), PostgreSQL and
#      Redis on loopback, all TLS (scripts/stack/up.sh);
#   2. migrates each service's database (a step of its own, with that database's owner role) and
#      starts audit-ingest, auth, credential-vault, flow-engine (mTLS, internal identity) and the public HTTPS
#      gateway (logs under .flow8/logs/). Each service process gets its own runtime credentials
#      and nothing else: no owner URL, no superuser URL, no other service's URL
#      (scripts/lib/launch.sh);
#   3. does the main job through the public API, as a customer would: the platform operator
#      creates a company and its first Admin; the Admin signs in (session cookie + CSRF token),
#      adds a compliance officer (Viewer) and connects Salesforce (the API key is sealed in the
#      vault on arrival); every change crosses Kafka and lands in the
#      hash-chained audit ledger; the officer signs in, reads the audit log, verifies it online,
#      downloads the NDJSON export and verifies it OFFLINE with nothing but the public key; the
#      Admin then creates a flow (map → condition → echo), publishes it, runs it, and the script
#      prints the finished execution and its steps.
# Services keep running afterwards; stop everything with scripts/stop.sh.
#
# Env: FLOW8_GATEWAY_PORT (8443), FLOW8_AUTH_PORT (8101), FLOW8_VAULT_PORT (8102), FLOW8_AUDIT_PORT (8104),
#      FLOW8_ENGINE_PORT (8105),
#      FLOW8_GATEWAY_METRICS_PORT (9443), FLOW8_AUTH_METRICS_PORT (9101), FLOW8_VAULT_METRICS_PORT (9102),
#      FLOW8_AUDIT_METRICS_PORT (9104), FLOW8_ENGINE_METRICS_PORT (9105) — plain-HTTP GET /metrics on 127.0.0.1,
#      LOG_LEVEL (info),
#      OTEL_EXPORTER_OTLP_ENDPOINT (unset: spans are not exported); a service also receives the
#      caller's OTEL_* and its own AUTH_* / VAULT_* / AUDIT_* / FLOW_* / GATEWAY_* settings (never a
#      database URL from the caller's environment; see scripts/lib/launch.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
cd "$FLOW8_REPO_ROOT"

bash scripts/setup.sh
bash scripts/stack/up.sh --quiet
STATE="${FLOW8_STATE_DIR:-$FLOW8_REPO_ROOT/.flow8}"
# Every URL of the stack (owner, superuser, runtime) for this script's own use; a process it
# starts gets only what its start line names (scripts/lib/launch.sh).
# shellcheck disable=SC1091
source "$STATE/stack.env"
mkdir -p "$STATE/logs" "$STATE/run" "$STATE/secrets"

AUTH_PORT="${FLOW8_AUTH_PORT:-8101}"
GATEWAY_PORT="${FLOW8_GATEWAY_PORT:-8443}"
VAULT_PORT="${FLOW8_VAULT_PORT:-8102}"
AUDIT_PORT="${FLOW8_AUDIT_PORT:-8104}"
ENGINE_PORT="${FLOW8_ENGINE_PORT:-8105}"
# Prometheus scrape ports (loopback, plain HTTP), one per service.
AUTH_METRICS_PORT="${FLOW8_AUTH_METRICS_PORT:-9101}"
VAULT_METRICS_PORT="${FLOW8_VAULT_METRICS_PORT:-9102}"
AUDIT_METRICS_PORT="${FLOW8_AUDIT_METRICS_PORT:-9104}"
ENGINE_METRICS_PORT="${FLOW8_ENGINE_METRICS_PORT:-9105}"
GATEWAY_METRICS_PORT="${FLOW8_GATEWAY_METRICS_PORT:-9443}"

# Development secrets: generated once, kept in the state dir (mode 600), never committed.
signing_key="$STATE/secrets/audit-signing.key"
[[ -s "$signing_key" ]] || (openssl rand -base64 32 >"$signing_key" && chmod 600 "$signing_key")
operator_password_file="$STATE/secrets/demo-admin.password"
identity_key="$STATE/secrets/gateway-identity.key"
[[ -s "$identity_key" ]] || (openssl rand -base64 32 >"$identity_key" && chmod 600 "$identity_key")
identity_public_key="$(node_modules/.bin/tsx scripts/lib/ed25519-public-key.ts "$identity_key")"
operator_token="$STATE/secrets/operator.token"
[[ -s "$operator_token" ]] || (openssl rand -hex 32 >"$operator_token" && chmod 600 "$operator_token")
apikey_signing_key="$STATE/secrets/auth-apikey-signing.key"
[[ -s "$apikey_signing_key" ]] || (openssl rand -base64 32 >"$apikey_signing_key" && chmod 600 "$apikey_signing_key")
# The vault's root key-encryption key. In production it lives in a secret manager, never beside data.
encryption_key="$STATE/secrets/vault-encryption.key"
[[ -s "$encryption_key" ]] || (openssl rand -base64 32 >"$encryption_key" && chmod 600 "$encryption_key")
[[ -s "$operator_password_file" ]] || (printf 'Fl8-%s' "$(openssl rand -hex 12)" >"$operator_password_file" && chmod 600 "$operator_password_file")

# migrate <service> <D>: the service's migrations, as its database's owner, before it starts. The
# owner URL exists only in this short-lived step; the runtime and relay URLs name the roles to grant to.
migrate() {
  local name="$1" d="$2" url
  local vars=(FLOW8_CA_FILE="$FLOW8_CA_FILE")
  for url in "${d}_MIGRATION_DATABASE_URL" "${d}_DATABASE_URL" "${d}_RELAY_DATABASE_URL"; do vars+=("$url=${!url}"); done
  run_clean "$d" "${vars[@]}" -- pnpm -s --filter "@flow8/$name" migrate >"$STATE/logs/migrate-$name.log" 2>&1 \
    || die "$name" "migrations failed" "$STATE/logs/migrate-$name.log"
}
log "migrating databases (owner roles, before any service starts)"
migrate auth AUTH
migrate audit-ingest AUDIT
migrate credential-vault VAULT
migrate flow-engine FLOW

# start_service <name> <prefix> <port> <env...>: the service with exactly these variables (plus
# the basics and the caller's <prefix>_* settings, see scripts/lib/launch.sh).
start_service() {
  local name="$1" prefix="$2" port="$3"; shift 3
  local pidfile="$STATE/run/$name.pid" logfile="$STATE/logs/$name.log"
  if pid="$(pid_from_file "$pidfile")" && kill -0 "$pid" 2>/dev/null; then
    log "$name: already running (pid $pid)"
  else
    log "$name: starting on https://localhost:$port"
    launch_service "services/$name" "$prefix" "$pidfile" "$logfile" "$@" PORT="$port" \
      FLOW8_CA_FILE="$FLOW8_CA_FILE" KAFKA_BROKERS="$KAFKA_BROKERS" TLS_CERT_FILE="$FLOW8_CERTS_DIR/$name.pem" \
      TLS_KEY_FILE="$FLOW8_CERTS_DIR/$name-key.pem" LOG_LEVEL="${LOG_LEVEL:-info}" \
      -- ../../node_modules/.bin/tsx src/main.ts
  fi
  wait_for 60 curl -sf --cacert "$FLOW8_CA_FILE" --cert "$FLOW8_CERTS_DIR/operator.pem" \
    --key "$FLOW8_CERTS_DIR/operator-key.pem" "https://localhost:$port/readyz" \
    || die "$name" "not ready on port $port within 60 s" "$logfile"
  ok "$name: ready"
}

start_service audit-ingest AUDIT "$AUDIT_PORT" METRICS_PORT="$AUDIT_METRICS_PORT" AUDIT_DATABASE_URL="$AUDIT_DATABASE_URL" \
  AUDIT_RELAY_DATABASE_URL="$AUDIT_RELAY_DATABASE_URL" AUDIT_SIGNING_KEY_FILE="$signing_key" \
  AUDIT_ALLOWED_CALLERS=gateway INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key" \
  AUDIT_CHECKPOINT_INTERVAL="${AUDIT_CHECKPOINT_INTERVAL:-10s}"
start_service auth AUTH "$AUTH_PORT" METRICS_PORT="$AUTH_METRICS_PORT" AUTH_DATABASE_URL="$AUTH_DATABASE_URL" \
  AUTH_RELAY_DATABASE_URL="$AUTH_RELAY_DATABASE_URL" AUTH_ALLOWED_CALLERS=gateway \
  INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key" REDIS_URL="$REDIS_URL" \
  AUTH_API_KEY_SIGNING_KEYS_FILE="$apikey_signing_key"
start_service credential-vault VAULT "$VAULT_PORT" METRICS_PORT="$VAULT_METRICS_PORT" VAULT_DATABASE_URL="$VAULT_DATABASE_URL" \
  VAULT_RELAY_DATABASE_URL="$VAULT_RELAY_DATABASE_URL" ENCRYPTION_KEY_FILE="$encryption_key" \
  INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key"
start_service flow-engine FLOW "$ENGINE_PORT" METRICS_PORT="$ENGINE_METRICS_PORT" FLOW_DATABASE_URL="$FLOW_DATABASE_URL" \
  FLOW_RELAY_DATABASE_URL="$FLOW_RELAY_DATABASE_URL" FLOW_ALLOWED_CALLERS=gateway \
  INTERNAL_IDENTITY_PUBLIC_KEYS="$identity_public_key"
start_service gateway GATEWAY "$GATEWAY_PORT" METRICS_PORT="$GATEWAY_METRICS_PORT" GATEWAY_IDENTITY_SIGNING_KEY_FILE="$identity_key" \
  GATEWAY_OPERATOR_TOKEN_FILE="$operator_token" REDIS_URL="$REDIS_URL" \
  GATEWAY_AUTH_URL="https://localhost:$AUTH_PORT" GATEWAY_AUDIT_URL="https://localhost:$AUDIT_PORT" \
  GATEWAY_VAULT_URL="https://localhost:$VAULT_PORT" GATEWAY_FLOW_ENGINE_URL="https://localhost:$ENGINE_PORT"

# The public API, as a frontend or a customer's script sees it: HTTPS, our CA, no client cert.
api() { # api <method> <path> [curl args...]
  local method="$1" path="$2"; shift 2
  curl -sS --fail-with-body --cacert "$FLOW8_CA_FILE" -X "$method" "$@" "https://localhost:$GATEWAY_PORT$path"
}
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval("j"+process.argv[1]))})' "$1"; }

log "main job: the platform operator creates a company and its first Admin"
slug="demo-$(date +%s)"
admin_email="admin@$slug.example"
officer_email="compliance@$slug.example"
password="$(cat "$operator_password_file")"
api POST /v1/tenants -H "authorization: Bearer $(cat "$operator_token")" -H 'content-type: application/json' \
  -d "{\"name\":\"Demo Law LLP\",\"slug\":\"$slug\",\"admin\":{\"email\":\"$admin_email\",\"password\":\"$password\"}}" \
  >"$STATE/run/demo-tenant.json" || die demo "creating the demo company failed" "$STATE/logs/gateway.log"
tenant_id="$(json .tenant.id <"$STATE/run/demo-tenant.json")"
ok "company $tenant_id created"

login() { # login <email> <cookie-jar>  → prints the CSRF token
  api POST /v1/auth/login -c "$2" -H 'content-type: application/json' \
    -d "{\"tenant\":\"$slug\",\"email\":\"$1\",\"password\":\"$password\"}" | json .csrfToken
}
admin_jar="$STATE/run/admin.cookies"; officer_jar="$STATE/run/officer.cookies"
csrf="$(login "$admin_email" "$admin_jar")" || die demo "the Admin could not sign in" "$STATE/logs/auth.log"
ok "Admin signed in (session cookie, CSRF token)"
officer_id="$(api POST /v1/users -b "$admin_jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d "{\"email\":\"$officer_email\",\"password\":\"$password\",\"role\":\"viewer\"}" | json .id)" \
  || die demo "the Admin could not add the compliance officer" "$STATE/logs/auth.log"
ok "Admin added a compliance officer (Viewer) $officer_id"
login "$officer_email" "$officer_jar" >/dev/null || die demo "the compliance officer could not sign in" "$STATE/logs/auth.log"
credential_id="$(api POST /v1/credentials -b "$admin_jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"integration":"salesforce","name":"Salesforce (demo)","kind":"api_key","scopes":["records:read"],"secret":"demo-not-a-real-key"}' \
  | json .id)" || die demo "the Admin could not store a credential" "$STATE/logs/credential-vault.log"
ok "Admin connected Salesforce: credential $credential_id (sealed in the vault; reads return metadata only)"

log "waiting for the events to reach the audit ledger through Kafka"
wait_for 90 bash -c "$(declare -f api); GATEWAY_PORT=$GATEWAY_PORT FLOW8_CA_FILE=$FLOW8_CA_FILE; \
  api GET '/v1/audit/events?type=identity.user.created' -b '$officer_jar' | grep -q '$officer_id'" \
  || die demo "the company's events did not reach the ledger within 90 s" "$STATE/logs/audit-ingest.log"
api GET '/v1/audit/events?limit=20' -b "$officer_jar" >"$STATE/run/demo-events.json"
ok "ledger entries: $(json '.items.map(i=>`#${i.seq} ${i.type}`).join(", ")' <"$STATE/run/demo-events.json")"

wait_for 30 bash -c "$(declare -f api); GATEWAY_PORT=$GATEWAY_PORT FLOW8_CA_FILE=$FLOW8_CA_FILE; \
  api GET /v1/audit/checkpoints -b '$officer_jar' | grep -q headHash" \
  || die demo "no signed checkpoint within 30 s" "$STATE/logs/audit-ingest.log"
verify="$(api GET /v1/audit/verify -b "$officer_jar")" || die demo "online verify failed" "$STATE/logs/audit-ingest.log"
ok "online verification: $verify"
export_file="$STATE/run/audit-export-$tenant_id.ndjson"
api GET '/v1/audit/export?format=ndjson' -b "$officer_jar" -o "$export_file" || die demo "export failed" "$STATE/logs/gateway.log"
public_key="$(api GET /v1/audit/checkpoints -b "$officer_jar" | json '.publicKeys[0].publicKey')"
log "offline verification of $export_file (no server access, only the public key)"
pnpm -s audit:verify --export "$export_file" --public-key "$public_key" || die demo "offline verification failed"

log "main job: the Admin builds a flow (map → condition → echo), publishes it and runs it"
cat >"$STATE/run/demo-flow.json" <<'JSON'
{"schema":"flow-definition.v1","name":"Big invoice notice","purpose":"Tell the team about large invoices",
 "legalBasis":"contract","triggers":[{"id":"manual","kind":"manual"}],
 "inputSchema":{"type":"object","additionalProperties":false,"required":["client","amount"],
   "properties":{"client":{"type":"string"},"amount":{"type":"number"}}},
 "flowlets":[
   {"id":"total","kind":"map","output":{"gross":"input.amount * 1.2","client":"input.client"}},
   {"id":"check","kind":"condition","branches":[{"id":"big","when":"steps.total.gross > 1000.0"}],"otherwise":"small"},
   {"id":"notify","kind":"action","integration":"test","operation":"echo",
    "input":{"message":"'Large invoice for ' + steps.total.client","gross":"steps.total.gross"}},
   {"id":"skip","kind":"map","output":{"note":"'small invoice'"}}],
 "edges":[{"from":"total","to":"check"},{"from":"check","to":"notify","branch":"big"},
          {"from":"check","to":"skip","branch":"small"}]}
JSON
flow_id="$(api POST /v1/flows -b "$admin_jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  --data-binary "@$STATE/run/demo-flow.json" | json .id)" || die demo "the Admin could not create a flow" "$STATE/logs/flow-engine.log"
api POST "/v1/flows/$flow_id/publish" -b "$admin_jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"version":1}' >/dev/null || die demo "the Admin could not publish the flow" "$STATE/logs/flow-engine.log"
ok "flow $flow_id created and version 1 published"
execution_id="$(api POST "/v1/flows/$flow_id/executions" -b "$admin_jar" -H "x-csrf-token: $csrf" \
  -H 'content-type: application/json' -d '{"client":"Acme Corp","amount":1250}' | json .id)" \
  || die demo "the Admin could not run the flow" "$STATE/logs/flow-engine.log"
ok "manual run started: execution $execution_id"
wait_for 60 bash -c "$(declare -f api); GATEWAY_PORT=$GATEWAY_PORT FLOW8_CA_FILE=$FLOW8_CA_FILE; \
  api GET '/v1/executions/$execution_id' -b '$admin_jar' | grep -Eq '\"status\":\"(succeeded|failed|cancelled|timed_out|ambiguous)\",\"errorCode\"'" \
  || die demo "the execution did not finish within 60 s" "$STATE/logs/flow-engine.log"
api GET "/v1/executions/$execution_id" -b "$admin_jar" >"$STATE/run/demo-execution.json" \
  || die demo "reading the execution failed" "$STATE/logs/gateway.log"
ok "execution $execution_id: $(json '.status' <"$STATE/run/demo-execution.json"), output $(json '.output' <"$STATE/run/demo-execution.json" | tr -d '\n')"
json '.steps.map((s,i)=>`   step ${i+1} ${s.stepId} (${s.kind}) ${s.status} → ${JSON.stringify(s.output)}`).join("\n")' \
  <"$STATE/run/demo-execution.json"
[ "$(json '.status' <"$STATE/run/demo-execution.json")" = succeeded ] \
  || die demo "the demo execution did not succeed" "$STATE/logs/flow-engine.log"

cat <<EOT

flow8 is up:
  gateway        https://localhost:$GATEWAY_PORT   (public HTTPS API; OpenAPI at /v1/openapi.json; logs $STATE/logs/gateway.log)
  auth           https://localhost:$AUTH_PORT   (mTLS + internal identity; logs $STATE/logs/auth.log)
  audit-ingest   https://localhost:$AUDIT_PORT   (mTLS + internal identity; logs $STATE/logs/audit-ingest.log)
  vault          https://localhost:$VAULT_PORT   (mTLS + internal identity; logs $STATE/logs/credential-vault.log)
  flow-engine    https://localhost:$ENGINE_PORT   (mTLS; executions run through flow8.flow.commands.v1; logs $STATE/logs/flow-engine.log)
  metrics        http://127.0.0.1:$GATEWAY_METRICS_PORT/metrics (gateway)   http://127.0.0.1:$AUTH_METRICS_PORT/metrics (auth)
                 http://127.0.0.1:$VAULT_METRICS_PORT/metrics (vault)     http://127.0.0.1:$AUDIT_METRICS_PORT/metrics (audit-ingest)
                 http://127.0.0.1:$ENGINE_METRICS_PORT/metrics (flow-engine)
  Kafka SSL      $KAFKA_BROKERS    PostgreSQL TLS localhost:$PGPORT    Redis TLS $(echo "$REDIS_URL" | sed 's/.*@//')
  demo company   $tenant_id ($slug): sign in as $admin_email or $officer_email,
                 flow $flow_id, execution $execution_id (GET /v1/executions/$execution_id)
                 password in $operator_password_file
  operator token $operator_token   (POST /v1/tenants)
Verify any export yourself:  pnpm audit:verify --export <file.ndjson> --public-key $public_key
Stop everything:             ./scripts/stop.sh
EOT
