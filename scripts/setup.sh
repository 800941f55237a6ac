#!/usr/bin/env bash
# Idempotent "install what is missing" for flow8 development and test runs. A fast no-op when
# everything is present (it runs at the start of every test run).
#   - Debian packages for PostgreSQL, Redis (with TLS), OpenSSL, Java, Maven — only when a
#     needed binary is absent (apt-get update only then)
#   - the pinned Node.js 24 and pnpm (scripts/lib/runtime.sh) into $FLOW8_CACHE_DIR/runtime,
#     integrity-checked, unless the machine's own node is already on that line and not older
#   - workspace dependencies: pnpm install --frozen-lockfile (skipped when node_modules already
#     matches pnpm-lock.yaml; FLOW8_SETUP_FORCE=1 forces it)
#   - the Apache Kafka jars from Maven Central into $FLOW8_CACHE_DIR/kafka-<version>/kafka-libs
#
# Usage: scripts/setup.sh [--kafka-only] [--no-install]
#   --kafka-only  only fetch the Kafka jars (used by scripts/stack/up.sh)
#   --no-install  skip the pnpm workspace install
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

KAFKA_ONLY=0
NO_INSTALL=0
for arg in "$@"; do
  case "$arg" in
    --kafka-only) KAFKA_ONLY=1 ;;
    --no-install) NO_INSTALL=1 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die setup "unknown argument: $arg" ;;
  esac
done

# ---------------------------------------------------------------------------------------------
apt_packages() {
  local missing=()
  local pg_bin
  pg_bin="$(resolve_pg_bin)"
  if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" || ! -x "$pg_bin/pg_ctl" ]] || ! command -v psql >/dev/null; then
    missing+=(postgresql postgresql-client)
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    missing+=(redis-server redis-tools)
  fi
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v runuser >/dev/null || missing+=(util-linux)
  command -v flock >/dev/null || missing+=(util-linux)
  # npm fetches the pinned Node.js and pnpm the first time (any npm will do).
  if ! command -v npm >/dev/null && ! { node_is_supported node && [[ -x "$FLOW8_RUNTIME_BIN/pnpm" ]]; }; then
    missing+=(npm)
  fi
  if ((${#missing[@]} == 0)); then return 0; fi

  command -v apt-get >/dev/null || die setup "missing packages (${missing[*]}) and no apt-get to install them"
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die setup "missing packages (${missing[*]}); run as root or install sudo"
    sudo=(sudo)
  fi
  log "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq || die apt "apt-get update failed"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die apt "apt-get install ${missing[*]} failed"
  # Note: Debian's postgresql package also starts a system cluster on 5432; the stack never
  # uses it (it runs a private cluster, see scripts/stack/up.sh).
  ok "setup: installed ${missing[*]}"
}

workspace_install() {
  require_supported_node setup
  cd "$FLOW8_REPO_ROOT"
  if [[ -f pnpm-lock.yaml ]]; then
    # pnpm keeps a copy of the lockfile it installed in node_modules/.pnpm/lock.yaml; we keep the
    # Node.js version it was installed with (install scripts and native modules depend on it).
    if [[ "${FLOW8_SETUP_FORCE:-0}" != "1" && -f node_modules/.pnpm/lock.yaml ]] \
      && cmp -s pnpm-lock.yaml node_modules/.pnpm/lock.yaml \
      && [[ "$(cat node_modules/.flow8-node-version 2>/dev/null)" == "$(node --version)" ]]; then
      return 0
    fi
    log "setup: pnpm install --frozen-lockfile"
    pnpm install --frozen-lockfile >"${TMPDIR:-/tmp}/flow8-pnpm-install.log" 2>&1 \
      || die pnpm "pnpm install --frozen-lockfile failed" "${TMPDIR:-/tmp}/flow8-pnpm-install.log"
  else
    log "setup: no pnpm-lock.yaml; pnpm install"
    pnpm install >"${TMPDIR:-/tmp}/flow8-pnpm-install.log" 2>&1 \
      || die pnpm "pnpm install failed" "${TMPDIR:-/tmp}/flow8-pnpm-install.log"
  fi
  node --version >node_modules/.flow8-node-version
  ok "setup: workspace dependencies installed (Node.js $(node --version))"
}

kafka_jars() {
  local dest="$FLOW8_KAFKA_LIBS"
  [[ -f "$dest/.complete" ]] && return 0
  need_cmd kafka mvn java
  local base
  base="$(dirname "$dest")"
  mkdir -p "$base"
  # Concurrent test runs may call this at once: one downloads, the others wait.
  exec 9>"$base/.lock"
  flock -w 600 9 || die kafka "timed out waiting for another download of the Kafka jars"
  if [[ ! -f "$dest/.complete" ]]; then
    log "setup: downloading Kafka $FLOW8_KAFKA_VERSION jars from Maven Central into $dest"
    local tmp="$dest.tmp.$$"
    rm -rf "$tmp"
    mvn -q -B -f "$FLOW8_REPO_ROOT/scripts/kafka/pom.xml" "-Dkafka.version=$FLOW8_KAFKA_VERSION" \
      dependency:copy-dependencies "-DoutputDirectory=$tmp" >"$base/maven.log" 2>&1 \
      || die kafka "mvn dependency:copy-dependencies failed (is Kafka $FLOW8_KAFKA_VERSION on Maven Central?)" "$base/maven.log"
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die kafka "kafka_2.13 jar missing after download" "$base/maven.log"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    date -u +%FT%TZ >"$dest/.complete"
    ok "setup: Kafka $FLOW8_KAFKA_VERSION jars in $dest ($(ls "$dest" | wc -l) files)"
  fi
  flock -u 9
  exec 9>&-
}

# ---------------------------------------------------------------------------------------------
if ((KAFKA_ONLY)); then
  kafka_jars
  exit 0
fi
apt_packages
runtime_install
((NO_INSTALL)) || workspace_install
kafka_jars
