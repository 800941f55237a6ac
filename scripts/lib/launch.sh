# shellcheck shell=bash
# Starting flow8 processes with their own credentials and nothing else (scripts/start.sh).
# Source it after common.sh; do not execute it.
#
# A process started here inherits nothing from the caller but the basics below (PATH, HOME,
# locale, temp dir, Node options), the OpenTelemetry settings, and the caller's settings for
# that service (variables named <PREFIX>_*, e.g. AUTH_SESSION_TTL) other than database URLs.
# Everything else it gets is named on its start line. So a shell that sourced stack.env (every
# database's owner URL, the PostgreSQL superuser URL, every service's runtime URL) hands none of
# it to a service: each gets its own runtime (and outbox relay) URL only, and the owner URL goes
# to its migration step alone.

if [[ -n "${FLOW8_LAUNCH_SH_LOADED:-}" ]]; then return 0; fi
FLOW8_LAUNCH_SH_LOADED=1

FLOW8_BASE_ENV=(PATH HOME USER LOGNAME LANG LC_ALL LC_CTYPE TZ TMPDIR NODE_OPTIONS)

# clean_env <prefix>: prints, one per line, NAME=value for the inherited variables a process of
# that service may see (the basics, OTEL_*, <prefix>_* except *DATABASE_URL).
clean_env() {
  local prefix="$1" name
  for name in "${FLOW8_BASE_ENV[@]}"; do
    [[ -n "${!name+x}" ]] && printf '%s=%s\n' "$name" "${!name}"
  done
  while IFS= read -r name; do
    case "$name" in
      *DATABASE_URL*) ;;
      OTEL_* | "${prefix}"_*) printf '%s=%s\n' "$name" "${!name}" ;;
    esac
  done < <(compgen -e)
}

# run_clean <prefix> <NAME=value>... -- <command> [args...]
# Runs the command in the foreground with a clean environment plus the given variables.
run_clean() {
  local prefix="$1"; shift
  local vars=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do vars+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] && shift
  local base=()
  mapfile -t base < <(clean_env "$prefix")
  env -i "${base[@]}" "${vars[@]}" "$@"
}

# launch_service <dir> <prefix> <pidfile> <logfile> <NAME=value>... -- <command> [args...]
# Starts the command in <dir> in the background, in a process group of its own (setsid), with a
# clean environment plus the given variables; stdout/stderr appended to <logfile>. The pid file
# holds the group's id (the shell records $$ and then becomes the command), so a stop script can
# end the whole tree.
launch_service() {
  local dir="$1" prefix="$2" pidfile="$3" logfile="$4"; shift 4
  local vars=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do vars+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] && shift
  local base=()
  mapfile -t base < <(clean_env "$prefix")
  (cd "$dir" && env -i "${base[@]}" "${vars[@]}" \
    setsid bash -c 'echo $$ >"$0"; shift; exec "$@"' "$pidfile" -- "$@" >>"$logfile" 2>&1 &
  ) </dev/null >/dev/null 2>&1
}
