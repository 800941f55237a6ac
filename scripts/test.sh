#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what is missing, brings up
# the real local stack (Kafka, PostgreSQL, Redis — all TLS, loopback), type-checks, lints, then
# runs the unit and integration tests against it. CI (.ci/run) calls exactly this.
#
# Usage: scripts/test.sh [jest args...]      e.g. scripts/test.sh services/audit-ingest
# Env:   FLOW8_TEST_SKIP_CHECK=1  skip typecheck, lint, SBOM and licence check (quicker local loops)
#        FLOW8_KEEP_STACK=0       stop the stack afterwards (default: leave it running)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$FLOW8_REPO_ROOT"

bash scripts/setup.sh
if [[ "${FLOW8_KEEP_STACK:-1}" == 0 ]]; then
  # CI: whatever happens below (a failed check exits early), the stack does not outlive the run.
  trap 'bash scripts/stack/down.sh >/dev/null 2>&1 || true' EXIT
fi
bash scripts/stack/up.sh --quiet
set -a
# shellcheck disable=SC1091
source "${FLOW8_STATE_DIR:-$FLOW8_REPO_ROOT/.flow8}/stack.env"
set +a

if [[ "${FLOW8_TEST_SKIP_CHECK:-0}" != 1 ]]; then
  log "type-check and lint"
  pnpm -s typecheck || die tests "type-check failed"
  pnpm -s lint || die tests "lint failed"
  log "supply chain: SBOMs (dist/sbom/) and the licence check"
  pnpm -s run sbom || die supply-chain "SBOM generation failed"
  pnpm -s run licenses:check || die supply-chain "licence check failed"
fi

jest() { node --experimental-vm-modules node_modules/jest/bin/jest.js --forceExit "$@"; }
report1="$(mktemp -t flow8-jest-XXXXXX.json)"
report2="$(mktemp -t flow8-jest-XXXXXX.json)"
echo '{}' >"$report2"
status=0
log "unit + integration tests (real Kafka, PostgreSQL, Redis over TLS)"
jest --selectProjects unit integration --maxWorkers=2 --json --outputFile="$report1" "$@" || status=$?
if [[ $# -eq 0 ]]; then
  # Fault suites stop the shared broker and kill service processes: alone, one at a time.
  log "fault tests (broker outage, killed consumer)"
  jest --selectProjects fault --runInBand --json --outputFile="$report2" || status=$?
fi

# One plain closing line that any CI reader understands.
node -e '
  const fs = require("fs");
  const rs = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const sum = (k) => rs.reduce((n, r) => n + (r[k] ?? 0), 0);
  const skipped = sum("numPendingTests") + sum("numTodoTests");
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (sum("numTotalTests") === 0) { console.error("no tests ran"); process.exit(1); }
' "$report1" "$report2" || status=1
rm -f "$report1" "$report2"

exit "$status"
