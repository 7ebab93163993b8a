#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine and builds it. Idempotent: each step
# is skipped when already done. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The runtimes tested are those of package.json's engines: Node 24 LTS, and 20.19+ (past its end of
# life). Another major is let through with a warning: it may work, nothing tests it.
command -v node >/dev/null 2>&1 || die "Node.js 24 LTS is needed (or 20.19+; Debian: NodeSource's node_24.x packages)"
read -r major minor < <(node -p 'process.versions.node.split(".").slice(0, 2).join(" ")')
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  die "Node.js 24 LTS is needed, or 20.19+ (found $(node --version))"
elif [ "$major" -ne 20 ] && [ "$major" -ne 24 ]; then
  say "warning: Node.js $(node --version) is not a tested runtime (24 LTS, or 20.19+)"
fi

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
# The addons are built for one Node ABI: after the machine's Node changed major version, the
# installed ones no longer load until rebuilt.
if ! node -e "require('node-rdkafka'); require('unix-dgram')" >/dev/null 2>&1; then
  say "rebuilding the native addons for Node $(node --version) (node-rdkafka compiles librdkafka: ~2 minutes)"
  npm rebuild node-rdkafka unix-dgram >&2
fi
node -e "const f=require('node-rdkafka').features; if(!f.includes('zstd')) { console.error('[himari-l0] warning: node-rdkafka built without zstd (install libzstd-dev, then: npm rebuild node-rdkafka)'); }"

say "building (tsc)"
npx --no-install tsc -p tsconfig.json >&2
chmod +x dist/src/cli.js
