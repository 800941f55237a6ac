#!/usr/bin/env bash
# Runs flow8 benchmarks against the local stack. Each bench prints a few human-readable lines and,
# as its last line, one JSON object {"bench","ratio","value","unit","baseline","baselineValue",...}.
#
# Usage: scripts/bench/run.sh [name] [-- bench args]
#   name   a file scripts/bench/<name>.ts (default: every scripts/bench/*.ts, in name order)
#   e.g.   scripts/bench/run.sh audit-ingest -- --events 50000
# The stack is started first (scripts/stack/up.sh, idempotent) unless it already answers.
set -o errexit -o nounset -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "$BENCH_DIR/../.." && pwd -P)"
# The pinned Node.js first on PATH, as for every other script (scripts/lib/runtime.sh).
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"
require_supported_node bench
TSX="$ROOT/node_modules/.bin/tsx"
ENV_FILE="${FLOW8_STATE_DIR:-$ROOT/.flow8}/stack.env"

name=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; args=("$@"); break ;;
    *) [[ -z "$name" ]] || { echo "run.sh: one bench name at most (got '$name' and '$1')" >&2; exit 2; }; name="$1"; shift ;;
  esac
done

[[ -x "$TSX" ]] || { echo "run.sh: $TSX not found (run pnpm install)" >&2; exit 1; }

if [[ -f "$ENV_FILE" ]] && bash "$ROOT/scripts/stack/status.sh" >/dev/null 2>&1; then
  :
else
  echo "run.sh: local stack not up; starting it (scripts/stack/up.sh)" >&2
  bash "$ROOT/scripts/stack/up.sh" --quiet >&2
fi
set -o allexport
# shellcheck source=/dev/null
source "$ENV_FILE"
set +o allexport

if [[ -n "$name" ]]; then
  benches=("$BENCH_DIR/${name%.ts}.ts")
  [[ -f "${benches[0]}" ]] || { echo "run.sh: no bench named '$name' (scripts/bench/${name%.ts}.ts)" >&2; exit 2; }
else
  shopt -s nullglob
  benches=("$BENCH_DIR"/*.ts)
  [[ ${#benches[@]} -gt 0 ]] || { echo "run.sh: no benches in $BENCH_DIR" >&2; exit 2; }
fi

cd "$ROOT"
status=0
for b in "${benches[@]}"; do
  echo "== $(basename "$b" .ts)" >&2
  "$TSX" "$b" "${args[@]}" || { echo "run.sh: $(basename "$b" .ts) failed" >&2; status=1; }
done
exit "$status"
