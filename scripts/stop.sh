#!/usr/bin/env bash
# Stops the services started by scripts/start.sh, then the infrastructure (scripts/stack/down.sh).
# Usage: scripts/stop.sh [--purge]   (--purge also deletes data, certificates and secrets)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$FLOW8_REPO_ROOT"
STATE="${FLOW8_STATE_DIR:-$FLOW8_REPO_ROOT/.flow8}"
for name in gateway auth credential-vault flow-engine audit-ingest; do
  if pid="$(pid_from_file "$STATE/run/$name.pid")" && kill -0 "$pid" 2>/dev/null; then
    log "$name: stopping pid $pid"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/run/$name.pid"
done
bash scripts/stack/down.sh "$@"
