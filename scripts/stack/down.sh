#!/usr/bin/env bash
# Stops the Kafka, Redis and PostgreSQL processes started by scripts/stack/up.sh: graceful
# first, killed after FLOW8_STOP_TIMEOUT seconds (default 30).
# Usage: scripts/stack/down.sh [--purge]
#   --purge  also delete the state dir ($FLOW8_STATE_DIR or <repo>/.flow8): data, certs,
#            secrets, logs, stack.env. The next up.sh starts from scratch.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die launcher "unknown argument: $arg" ;;
  esac
done

if [[ ! -d "$FLOW8_STATE" ]]; then
  log "nothing to stop: no state dir at $FLOW8_STATE"
  exit 0
fi
[[ -f "$FLOW8_STATE_MARKER" ]] || die launcher "$FLOW8_STATE does not look like a flow8 state dir (no .flow8-state); refusing to touch it"

failed=0

# --- Kafka ---------------------------------------------------------------------------------
K_DIR="$FLOW8_STATE/kafka"
if pid="$(pid_from_file "$K_DIR/kafka.pid")" \
  && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $K_DIR/server.properties"; then
  log "kafka: stopping pid $pid"
  # SIGTERM triggers Kafka's controlled shutdown; a single node stops within a few seconds.
  stop_pid kafka "$pid" "$FLOW8_STOP_TIMEOUT"
  ok "kafka: stopped"
else
  log "kafka: not running"
fi
rm -f "$K_DIR/kafka.pid"

# --- Redis ---------------------------------------------------------------------------------
R_DIR="$FLOW8_STATE/redis"
if pid="$(pid_from_file "$R_DIR/redis.pid")" \
  && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server; then
  log "redis: stopping pid $pid"
  stop_pid redis "$pid" "$FLOW8_STOP_TIMEOUT"
  ok "redis: stopped"
else
  log "redis: not running"
fi
rm -f "$R_DIR/redis.pid"

# --- PostgreSQL ----------------------------------------------------------------------------
PG_DIR="$(pg_dir)"
PG_DATA="$PG_DIR/data"
PG_BIN="$(resolve_pg_bin)"
if [[ -f "$PG_DATA/postmaster.pid" && -n "$PG_BIN" ]]; then
  if as_pg_user "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; then
    log "postgres: stopping (fast)"
    if ! as_pg_user "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$FLOW8_STOP_TIMEOUT" >/dev/null 2>&1; then
      warn "postgres: fast shutdown timed out; using immediate shutdown"
      as_pg_user "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 10 >/dev/null 2>&1 || failed=1
    fi
    ok "postgres: stopped"
  else
    log "postgres: not running"
  fi
else
  log "postgres: not running"
fi

rm -f "$FLOW8_STATE/stack.env"

if ((PURGE)); then
  # PostgreSQL's directory outside the state dir (see prepare_pg_dir): only if it is ours.
  if [[ "$PG_DIR" != "$FLOW8_STATE/pg" && "$(head -n 1 "$PG_DIR/.flow8-pg" 2>/dev/null)" == "$FLOW8_STATE" ]]; then
    log "purging $PG_DIR"
    rm -rf -- "$PG_DIR"
  fi
  log "purging $FLOW8_STATE"
  rm -rf -- "$FLOW8_STATE"
  ok "state dir removed"
fi
((failed == 0)) || die postgres "could not stop the server (see $PG_DIR/postgres.log)"
