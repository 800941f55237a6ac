# shellcheck shell=bash
# Shared helpers for the flow8 launcher scripts (scripts/setup.sh, scripts/stack/*.sh).
# Source it; do not execute it. Everything here is side-effect free except the functions
# that are explicitly about creating state (ensure_state_dir, secret_get_or_create).

if [[ -n "${FLOW8_COMMON_SH_LOADED:-}" ]]; then return 0; fi
FLOW8_COMMON_SH_LOADED=1

set -o errexit -o nounset -o pipefail
umask 077

FLOW8_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export FLOW8_REPO_ROOT

# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_dim=$'\e[2m' _c_red=$'\e[31m' _c_yel=$'\e[33m' _c_grn=$'\e[32m' _c_off=$'\e[0m'
else
  _c_dim='' _c_red='' _c_yel='' _c_grn='' _c_off=''
fi

_ts() { date +%H:%M:%S; }
log()  { printf '%s[flow8 %s]%s %s\n' "$_c_dim" "$(_ts)" "$_c_off" "$*" >&2; }
ok()   { printf '%s[flow8 %s]%s %sok%s %s\n' "$_c_dim" "$(_ts)" "$_c_off" "$_c_grn" "$_c_off" "$*" >&2; }
warn() { printf '%s[flow8 %s]%s %swarning:%s %s\n' "$_c_dim" "$(_ts)" "$_c_off" "$_c_yel" "$_c_off" "$*" >&2; }

# die <component> <message> [logfile]
# Prints "flow8: <component> FAILED: <message>", the last 30 lines of logfile (if given and
# present) and exits 1. Always name the component so a failing CI run says what broke.
die() {
  local component="$1" message="$2" logfile="${3:-}"
  printf '%sflow8: %s FAILED:%s %s\n' "$_c_red" "$component" "$_c_off" "$message" >&2
  if [[ -n "$logfile" && -f "$logfile" ]]; then
    printf -- '----- last 30 lines of %s -----\n' "$logfile" >&2
    tail -n 30 "$logfile" >&2 || true
    printf -- '----- end of %s -----\n' "$logfile" >&2
  fi
  exit 1
}

need_cmd() { # need_cmd <component> <binary>...
  local component="$1"; shift
  local b
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 || die "$component" "required command '$b' not found (run scripts/setup.sh)"
  done
}

# wait_for <timeout-seconds> <command...>
# Runs the command every 0.5 s until it succeeds or the timeout elapses. Returns 0/1; the
# caller decides how to die. The command's output is discarded.
wait_for() {
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# Configuration (every variable the launcher reads lives here; see docs/infrastructure.md)
# ---------------------------------------------------------------------------------------------
FLOW8_PG_PORT="${FLOW8_PG_PORT:-55432}"
FLOW8_KAFKA_PORT="${FLOW8_KAFKA_PORT:-19093}"
FLOW8_KAFKA_CONTROLLER_PORT="${FLOW8_KAFKA_CONTROLLER_PORT:-19094}"
FLOW8_REDIS_PORT="${FLOW8_REDIS_PORT:-16380}"
FLOW8_KAFKA_VERSION="${FLOW8_KAFKA_VERSION:-4.1.1}"
FLOW8_CACHE_DIR="${FLOW8_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flow8}"
FLOW8_KAFKA_HEAP="${FLOW8_KAFKA_HEAP:--Xms256m -Xmx512m}"
FLOW8_PG_TIMEOUT="${FLOW8_PG_TIMEOUT:-60}"
FLOW8_KAFKA_TIMEOUT="${FLOW8_KAFKA_TIMEOUT:-90}"
FLOW8_REDIS_TIMEOUT="${FLOW8_REDIS_TIMEOUT:-30}"
FLOW8_STOP_TIMEOUT="${FLOW8_STOP_TIMEOUT:-30}"
FLOW8_PG_DURABLE="${FLOW8_PG_DURABLE:-0}"
FLOW8_REDIS_TLS_AUTH_CLIENTS="${FLOW8_REDIS_TLS_AUTH_CLIENTS:-optional}"

# One database per service; role names are <db>_owner and <db>_app.
FLOW8_DATABASES=(auth vault flow audit retention)
# Client certificates (CN = name), issued only to what runs or operates the stack. The CN is also
# the Kafka principal (User:<CN>): kafka-admin provisions topics and ACLs (a Kafka super user); the
# services' rights are in packages/bus/src/topology.ts.
FLOW8_CERT_NAMES=(gateway auth credential-vault audit-ingest flow-engine testkit operator kafka-admin)

FLOW8_KAFKA_LIBS="$FLOW8_CACHE_DIR/kafka-$FLOW8_KAFKA_VERSION/kafka-libs"

# The pinned Node.js and pnpm (first on PATH from here on; scripts/setup.sh installs them).
# shellcheck source=scripts/lib/runtime.sh
source "$FLOW8_REPO_ROOT/scripts/lib/runtime.sh"

# PostgreSQL binaries: FLOW8_PG_BIN, else the newest /usr/lib/postgresql/<v>/bin, else PATH.
resolve_pg_bin() {
  if [[ -n "${FLOW8_PG_BIN:-}" ]]; then printf '%s\n' "$FLOW8_PG_BIN"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then printf '%s\n' "$d"; return; fi
  d="$(command -v initdb 2>/dev/null || true)"
  if [[ -n "$d" ]]; then dirname "$d"; return; fi
  printf '%s\n' ""
}

# State dir: FLOW8_STATE_DIR or <repo>/.flow8, always absolute.
resolve_state_dir() {
  local s="${FLOW8_STATE_DIR:-$FLOW8_REPO_ROOT/.flow8}"
  case "$s" in /*) ;; *) s="$PWD/$s" ;; esac
  printf '%s\n' "${s%/}"
}
FLOW8_STATE="$(resolve_state_dir)"
FLOW8_STATE_MARKER="$FLOW8_STATE/.flow8-state"

ensure_state_dir() {
  mkdir -p "$FLOW8_STATE"
  # The postgres OS user must be able to traverse into $STATE/pg (when it can reach $STATE at all:
  # see prepare_pg_dir).
  chmod 711 "$FLOW8_STATE"
  [[ -f "$FLOW8_STATE_MARKER" ]] || printf 'flow8 local stack state; safe to delete with scripts/stack/down.sh --purge\n' >"$FLOW8_STATE_MARKER"
  mkdir -p "$FLOW8_STATE/secrets" && chmod 700 "$FLOW8_STATE/secrets"
}

# secret_get_or_create <name>: prints the secret in $STATE/secrets/<name>, creating it
# (48 random hex chars, mode 600) on first use. Hex keeps URLs free of escaping.
secret_get_or_create() {
  local f="$FLOW8_STATE/secrets/$1"
  if [[ ! -s "$f" ]]; then
    (umask 077 && openssl rand -hex 24 >"$f.tmp" && mv "$f.tmp" "$f")
  fi
  chmod 600 "$f"
  tr -d '\n' <"$f"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL's directory (data, unix socket, server log)
# ---------------------------------------------------------------------------------------------
# Normally $STATE/pg. As root the server runs as the 'postgres' OS user, which cannot reach a
# state dir below a directory it may not traverse (a clone under /root, a 0700 temporary
# directory). Then PostgreSQL's directory is a postgres-owned one outside the checkout,
# $FLOW8_PG_ROOT/pg-<first 12 hex of sha256(state dir)> (FLOW8_PG_ROOT: /var/lib/flow8), and
# $STATE/pg.dir records where it is. FLOW8_PG_DIR names it explicitly.
FLOW8_PG_ROOT="${FLOW8_PG_ROOT:-/var/lib/flow8}"
FLOW8_PG_DIR_RECORD="$FLOW8_STATE/pg.dir"

# pg_dir: prints PostgreSQL's directory for this state dir (as decided by prepare_pg_dir).
pg_dir() {
  if [[ -n "${FLOW8_PG_DIR:-}" ]]; then printf '%s\n' "${FLOW8_PG_DIR%/}"; return; fi
  if [[ -s "$FLOW8_PG_DIR_RECORD" ]]; then head -n 1 "$FLOW8_PG_DIR_RECORD"; return; fi
  printf '%s\n' "$FLOW8_STATE/pg"
}

# prepare_pg_dir: decides and creates PostgreSQL's directory (owned by the server's OS user,
# mode 700, with its socket dir `run`) and prints it. Dies with the reason and the way out when
# the server's OS user still cannot use it.
prepare_pg_dir() {
  local dir
  dir="$(pg_dir)"
  if [[ $EUID -eq 0 && -z "${FLOW8_PG_DIR:-}" && ! -s "$FLOW8_PG_DIR_RECORD" ]] \
    && ! runuser -u postgres -- test -x "$FLOW8_STATE" 2>/dev/null; then
    dir="$FLOW8_PG_ROOT/pg-$(printf '%s' "$FLOW8_STATE" | sha256sum | cut -c1-12)"
    log "postgres: the 'postgres' OS user cannot reach $FLOW8_STATE (a parent directory is closed to other users); keeping PostgreSQL's data in $dir"
    mkdir -p "$FLOW8_PG_ROOT" && chmod 755 "$FLOW8_PG_ROOT"
    printf '%s\n' "$dir" >"$FLOW8_PG_DIR_RECORD"
  fi
  mkdir -p "$dir"
  [[ $EUID -eq 0 ]] && chown postgres: "$dir"
  chmod 700 "$dir"
  [[ "$dir" == "$FLOW8_STATE/pg" ]] || printf '%s\n' "$FLOW8_STATE" | as_pg_user tee "$dir/.flow8-pg" >/dev/null 2>&1 || true
  if ! as_pg_user mkdir -p "$dir/run" 2>/dev/null; then
    die postgres "the '$(pg_os_user)' OS user cannot create $dir/run: a parent directory is not traversable by it. Set FLOW8_PG_DIR to a directory it can reach (e.g. under /var/lib), or FLOW8_STATE_DIR to a state dir outside $(dirname "$FLOW8_STATE")"
  fi
  printf '%s\n' "$dir"
}

# ---------------------------------------------------------------------------------------------
# Processes and ports
# ---------------------------------------------------------------------------------------------
# pid_from_file <file>: prints the pid if the file exists and that process is alive.
pid_from_file() {
  local f="$1" pid
  [[ -s "$f" ]] || return 1
  pid="$(head -n 1 "$f" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

# port_in_use <port>: true if something listens on 127.0.0.1:<port> (TCP).
port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# stop_pid <component> <pid> [timeout]: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local component="$1" pid="$2" timeout="${3:-$FLOW8_STOP_TIMEOUT}"
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    # An exited daemon whose parent (init) has not reaped it yet counts as stopped.
    [[ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" == Z ]] && break
    if ((SECONDS >= deadline)); then
      warn "$component (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.3
  done
}

# Postgres refuses to run as root: as root we run it as the 'postgres' OS user; as any other
# user we run it as that user.
pg_os_user() {
  if [[ $EUID -eq 0 ]]; then printf 'postgres\n'; else id -un; fi
}
as_pg_user() {
  # From /: the caller's working directory (a checkout under /root) may be closed to postgres.
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
