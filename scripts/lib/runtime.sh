# shellcheck shell=bash
# The pinned Node.js runtime and pnpm that every flow8 script, service, test and bench runs on.
# Sourced by scripts/lib/common.sh (after FLOW8_CACHE_DIR is set); scripts/setup.sh calls
# runtime_install. Nothing outside $FLOW8_CACHE_DIR/runtime changes on the machine.
#
# Both come from the npm registry as ordinary packages (the official Node.js Linux build is
# published as node-linux-<arch>), fetched with the machine's npm (`npm pack`, so a configured
# registry mirror is honoured), checked against the sha512 integrity pinned below and unpacked
# into the cache. The machine's own `node` is used instead when it is already on the pinned
# major line and not older than the pinned version; otherwise the pinned one is. Changing a
# version here means changing its integrity too (`npm view <pkg>@<version> dist.integrity`), and
# deploy/Dockerfile's NODE_VERSION, PNPM_VERSION and PNPM_INTEGRITY with them (a unit test in
# packages/runtime checks that they agree).

FLOW8_NODE_VERSION=24.22.3
FLOW8_PNPM_VERSION=10.28.2
declare -A FLOW8_NODE_INTEGRITY=(
  [x64]='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
  [arm64]='sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=='
)
FLOW8_PNPM_INTEGRITY='sha512-QYcvA3rSL3NI47Heu69+hnz9RI8nJtnPdMCPGVB8MdLI56EVJbmD/rwt9kC1Q43uYCPrsfhO1DzC1lTSvDJiZA=='

FLOW8_RUNTIME_DIR="$FLOW8_CACHE_DIR/runtime"
# node (when the pinned one is used) and pnpm, first on PATH for every script that sources
# common.sh. The directory may not exist yet: setup.sh creates it, and commands run after that
# (in the same shell too) find it.
FLOW8_RUNTIME_BIN="$FLOW8_RUNTIME_DIR/bin-node$FLOW8_NODE_VERSION-pnpm$FLOW8_PNPM_VERSION"
case ":$PATH:" in
  *":$FLOW8_RUNTIME_BIN:"*) ;;
  *) PATH="$FLOW8_RUNTIME_BIN:$PATH" ;;
esac
export PATH FLOW8_RUNTIME_BIN

# node_is_supported <node-binary>: true if it runs, is on the pinned major line and is not older
# than the pinned version.
node_is_supported() {
  local v
  v="$("$1" -p 'process.versions.node' 2>/dev/null)" || return 1
  [[ "${v%%.*}" == "${FLOW8_NODE_VERSION%%.*}" ]] || return 1
  [[ "$(printf '%s\n%s\n' "$FLOW8_NODE_VERSION" "$v" | sort -V | head -n 1)" == "$FLOW8_NODE_VERSION" ]]
}

_runtime_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) printf 'x64\n' ;;
    aarch64 | arm64) printf 'arm64\n' ;;
    *) die runtime "no pinned Node.js build for $(uname -m) (scripts/lib/runtime.sh knows x64 and arm64)" ;;
  esac
}

# _runtime_fetch <package> <version> <integrity> <dest>: npm pack, verify, unpack to <dest>.
_runtime_fetch() {
  local pkg="$1" version="$2" integrity="$3" dest="$4"
  [[ -f "$dest/.complete" ]] && return 0
  command -v npm >/dev/null || die runtime "npm is needed to fetch $pkg@$version (run scripts/setup.sh, which installs it)"
  local tmp actual
  tmp="$(mktemp -d "$FLOW8_RUNTIME_DIR/.fetch.XXXXXX")"
  log "setup: fetching $pkg@$version into $dest"
  (cd "$tmp" && npm pack --silent "$pkg@$version") >"$tmp/npm.log" 2>&1 \
    || die runtime "npm pack $pkg@$version failed" "$tmp/npm.log"
  [[ -f "$tmp/$pkg-$version.tgz" ]] || die runtime "npm pack $pkg@$version produced no $pkg-$version.tgz" "$tmp/npm.log"
  actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$pkg-$version.tgz" | base64 -w0)"
  if [[ "$actual" != "$integrity" ]]; then
    rm -rf "$tmp"
    die runtime "$pkg@$version does not match its pinned integrity (expected $integrity, got $actual); nothing installed"
  fi
  mkdir "$tmp/x"
  tar -xzf "$tmp/$pkg-$version.tgz" -C "$tmp/x" --no-same-owner || die runtime "unpacking $pkg-$version.tgz failed"
  rm -rf "$dest"
  mv "$tmp/x/package" "$dest"
  rm -rf "$tmp"
  chmod -R go+rX "$dest"
  date -u +%FT%TZ >"$dest/.complete"
}

# runtime_install: make `node` and `pnpm` on PATH the supported ones (idempotent, fast when done).
runtime_install() {
  if node_is_supported node && [[ -x "$FLOW8_RUNTIME_BIN/pnpm" ]]; then return 0; fi
  mkdir -p "$FLOW8_RUNTIME_DIR"
  chmod 755 "$FLOW8_RUNTIME_DIR"
  # Concurrent runs (several worktrees, CI) share the cache: one installs, the others wait.
  exec 8>"$FLOW8_RUNTIME_DIR/.lock"
  flock -w 600 8 || die runtime "timed out waiting for another install of the Node.js runtime"
  hash -r
  if node_is_supported node && [[ -x "$FLOW8_RUNTIME_BIN/pnpm" ]]; then
    flock -u 8
    exec 8>&-
    return 0
  fi
  local tmpbin="$FLOW8_RUNTIME_BIN.tmp.$$"
  rm -rf "$tmpbin"
  mkdir -p "$tmpbin"
  # The bin dir is rebuilt whole: the machine's node is judged without the pinned one on PATH.
  if ! PATH="${PATH//"$FLOW8_RUNTIME_BIN:"/}" node_is_supported node; then
    local arch node_home
    arch="$(_runtime_arch)"
    node_home="$FLOW8_RUNTIME_DIR/node-v$FLOW8_NODE_VERSION-linux-$arch"
    _runtime_fetch "node-linux-$arch" "$FLOW8_NODE_VERSION" "${FLOW8_NODE_INTEGRITY[$arch]}" "$node_home"
    [[ "$("$node_home/bin/node" --version 2>/dev/null)" == "v$FLOW8_NODE_VERSION" ]] \
      || die runtime "$node_home/bin/node does not run or is not v$FLOW8_NODE_VERSION"
    ln -sfn "$node_home/bin/node" "$tmpbin/node"
  fi
  local pnpm_home="$FLOW8_RUNTIME_DIR/pnpm-$FLOW8_PNPM_VERSION"
  _runtime_fetch pnpm "$FLOW8_PNPM_VERSION" "$FLOW8_PNPM_INTEGRITY" "$pnpm_home"
  # pnpm runs on the node beside it when there is one, else on the (supported) node on PATH.
  cat >"$tmpbin/pnpm" <<EOF
#!/bin/sh
# flow8: pnpm $FLOW8_PNPM_VERSION on the pinned Node.js (scripts/lib/runtime.sh)
dir="\$(dirname "\$0")"
if [ -x "\$dir/node" ]; then exec "\$dir/node" "$pnpm_home/bin/pnpm.cjs" "\$@"; fi
exec node "$pnpm_home/bin/pnpm.cjs" "\$@"
EOF
  chmod 755 "$tmpbin" "$tmpbin/pnpm"
  rm -rf "$FLOW8_RUNTIME_BIN"
  mv "$tmpbin" "$FLOW8_RUNTIME_BIN"
  hash -r
  flock -u 8
  exec 8>&-
  node_is_supported node || die runtime "node on PATH is $(node --version 2>&1) after installing v$FLOW8_NODE_VERSION"
  ok "setup: Node.js $(node --version) ($(command -v node)), pnpm $(pnpm --version)"
}

# require_supported_node <component>: die with a clear message unless `node` on PATH is supported.
require_supported_node() {
  node_is_supported node \
    || die "$1" "Node.js ${FLOW8_NODE_VERSION%%.*} (>= $FLOW8_NODE_VERSION) required, found $(node --version 2>/dev/null || echo none); run scripts/setup.sh"
}
