#!/usr/bin/env bash
# Shows what the local stack is running. Exit 0 if every component is up and answering,
# 1 otherwise.
# Usage: scripts/stack/status.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

CERTS="$FLOW8_STATE/certs"
CA="$CERTS/ca.pem"
all_ok=1

row() { printf '  %-10s %-9s %-8s %-28s %s\n' "$@"; }

echo "state dir: $FLOW8_STATE"
if [[ ! -d "$FLOW8_STATE" ]]; then
  echo "  (no state dir; run scripts/stack/up.sh)"
  exit 1
fi
row COMPONENT STATE PID ENDPOINT CHECK

# PostgreSQL
PG_DATA="$(pg_dir)/data"
PG_BIN="$(resolve_pg_bin)"
pg_pid="" pg_state=stopped pg_check="-" pg_port="$FLOW8_PG_PORT"
if [[ -f "$PG_DATA/postmaster.pid" ]] && pg_pid="$(pid_from_file "$PG_DATA/postmaster.pid")"; then
  pg_state=running
  pg_port="$(sed -n 4p "$PG_DATA/postmaster.pid")"
  if [[ -n "$PG_BIN" ]] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" 2>/dev/null; then
    pg_check="accepting connections"
  else
    pg_check="NOT accepting connections"; all_ok=0
  fi
else
  pg_pid="-"; all_ok=0
fi
row postgres "$pg_state" "$pg_pid" "localhost:$pg_port" "$pg_check"

# Kafka
K_DIR="$FLOW8_STATE/kafka"
k_state=stopped k_check="-" k_port="$FLOW8_KAFKA_PORT"
[[ -f "$K_DIR/server.properties" ]] && k_port="$(sed -n 's#^listeners=SSL://127.0.0.1:\([0-9]*\),.*#\1#p' "$K_DIR/server.properties")"
if k_pid="$(pid_from_file "$K_DIR/kafka.pid")" \
  && tr '\0' ' ' <"/proc/$k_pid/cmdline" 2>/dev/null | grep -q kafka.Kafka; then
  k_state=running
  if openssl s_client -connect "127.0.0.1:$k_port" -servername localhost -CAfile "$CA" \
    -cert "$CERTS/testkit.pem" -key "$CERTS/testkit-key.pem" -verify_return_error \
    -verify_hostname localhost </dev/null >/dev/null 2>&1; then
    k_check="mTLS handshake ok"
  else
    k_check="TLS handshake FAILED"; all_ok=0
  fi
  k_rss="$(awk '/VmRSS/ {printf "%d MB", $2/1024}' "/proc/$k_pid/status" 2>/dev/null || true)"
  [[ -n "$k_rss" ]] && k_check="$k_check, rss $k_rss"
else
  k_pid="-"; all_ok=0
fi
row kafka "$k_state" "$k_pid" "SSL://localhost:$k_port" "$k_check"

# Redis
R_DIR="$FLOW8_STATE/redis"
r_state=stopped r_check="-" r_port="$FLOW8_REDIS_PORT"
[[ -f "$R_DIR/redis.conf" ]] && r_port="$(awk '/^tls-port/ {print $2}' "$R_DIR/redis.conf")"
if r_pid="$(pid_from_file "$R_DIR/redis.pid")"; then
  r_state=running
  if [[ "$(REDISCLI_AUTH="$(cat "$FLOW8_STATE/secrets/redis" 2>/dev/null)" redis-cli --no-auth-warning --tls \
    --cacert "$CA" --cert "$CERTS/testkit.pem" --key "$CERTS/testkit-key.pem" -h localhost -p "$r_port" PING 2>/dev/null)" == PONG ]]; then
    r_check="TLS PING ok"
  else
    r_check="PING FAILED"; all_ok=0
  fi
else
  r_pid="-"; all_ok=0
fi
row redis "$r_state" "$r_pid" "rediss://localhost:$r_port" "$r_check"

echo
if [[ -f "$FLOW8_STATE/stack.env" ]]; then
  echo "env file: $FLOW8_STATE/stack.env"
else
  echo "env file: (none; run scripts/stack/up.sh)"
fi
echo "logs:     $(pg_dir)/postgres.log  $K_DIR/kafka.log  $R_DIR/redis.log"
((all_ok)) && exit 0 || exit 1
