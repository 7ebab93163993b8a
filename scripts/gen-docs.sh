#!/usr/bin/env bash
# Regenerates the generated tables in docs/ (config reference, check catalog, metrics), keeping the
# hand-written text above each table. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
regen() { # file, command...
  local file=$1; shift
  local head
  head=$(awk '/^\| (key|id|metric) \|/{exit} {print}' "$file")
  { printf '%s\n' "$head"; "$@"; } > "$file.tmp"
  mv "$file.tmp" "$file"
}
regen docs/config.md node dist/src/cli.js config --markdown
regen docs/checks.md node dist/src/cli.js checks --markdown
regen docs/metrics.md node --input-type=module -e "process.stdout.write((await import('./dist/src/obs/metrics.js')).metricsMarkdownTable())"

regen docs/ingest.md node --input-type=module -e "const { metricsMarkdownTable } = await import('./dist/src/obs/metrics.js'); const { IngestMetrics } = await import('./dist/src/ingest/metrics.js'); process.stdout.write(metricsMarkdownTable(new IngestMetrics({ defaultMetrics: false }).registry))"
