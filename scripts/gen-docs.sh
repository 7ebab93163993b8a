#!/usr/bin/env bash
# Regenerates the generated tables in docs/ (config reference, check catalog), keeping the
# hand-written text above each table. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
regen() { # file, command...
  local file=$1; shift
  local head
  head=$(awk '/^\| (key|id) \|/{exit} {print}' "$file")
  { printf '%s\n' "$head"; node dist/src/cli.js "$@"; } > "$file.tmp"
  mv "$file.tmp" "$file"
}
regen docs/config.md config --markdown
regen docs/checks.md checks --markdown
