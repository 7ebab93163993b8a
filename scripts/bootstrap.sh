#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine and builds it. Idempotent: each step
# is skipped when already done. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v node >/dev/null 2>&1 || die "Node.js 20+ is needed (Debian: apt-get install nodejs npm)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js 20+ is needed (found $(node --version))"

# node-rdkafka compiles librdkafka from its bundled source; without these headers the build
# silently lacks zstd/lz4 and cannot read batches compressed with them.
missing=()
for pkg in libzstd-dev liblz4-dev libssl-dev g++ make python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    say "installing build dependencies: ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    say "warning: missing build packages (${missing[*]}); install them with: sudo apt-get install ${missing[*]}"
  fi
fi

# Install only when the lock file changed since the last install. `npm install` rather than
# `npm ci`: the lock leaves out msgpackr-extract's binaries for other platforms (the registry
# here does not serve those versions), which `npm ci` refuses; `npm install` keeps every locked
# version and leaves the lock file as it is.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f node_modules/node-rdkafka/build/Release/node-librdkafka.node ]; then
  say "installing npm dependencies (node-rdkafka compiles librdkafka: ~2 minutes the first time)"
  npm install --no-audit --no-fund >&2
fi
node -e "const f=require('node-rdkafka').features; if(!f.includes('zstd')) { console.error('[himari-l0] warning: node-rdkafka built without zstd (install libzstd-dev, then: npm rebuild node-rdkafka)'); }"

say "building (tsc)"
npx --no-install tsc -p tsconfig.json >&2
chmod +x dist/src/cli.js
