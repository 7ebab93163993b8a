#!/usr/bin/env bash
# The main job (`npm start`): installs and builds if needed, starts Kafka/Redis/PostgreSQL (or
# reuses them), creates topics and schema, streams synthetic ticks through the processor and
# shows what it did. Options go to the load generator, e.g.:
#   npm start -- --rate 20000 --duration 30 --symbols 100
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/bootstrap.sh
bash scripts/services.sh start
cli=(node dist/src/cli.js)
# The demo lets the processor create its topics (kafka.createTopics); production provisions them.
export HIMARI_KAFKA_CREATE_TOPICS=true

say "creating the schema"
"${cli[@]}" migrate >/dev/null

mkdir -p "$HIMARI_STATE_DIR/logs"
log="$HIMARI_STATE_DIR/logs/demo-run-$(date +%Y%m%d-%H%M%S).log"
say "starting the processor (JSON logs: $log)"
"${cli[@]}" run --stop-when-idle 3000 >"$log" 2>"$log.stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
wait_for 60 grep -q "himari-l0: ready in" "$log.stderr" || { cat "$log.stderr" >&2; die "the processor did not become ready"; }
grep "himari-l0: ready in" "$log.stderr" >&2

args=(--rate 10000 --duration 10 --symbols 50 --bad 10)
[ "$#" -gt 0 ] && args=("$@")
say "producing: ${args[*]}"
"${cli[@]}" produce "${args[@]}"

say "waiting for the processor to drain and stop"
wait "$pid" || die "the processor failed (see $log)"
trap - EXIT
cat "$log.stderr" | grep -v "himari-l0: ready in" >&2

say "a sample of what is stored:"
prefix=l0:
redis-cli HGET "${prefix}latest:binance:BTC-USDT" event 2>/dev/null | cut -c1-300 >&2 || true
psql "${HIMARI_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -c \
  "SELECT venue, type, verdict, count(*) AS events, max(ingested_at) AS last_write FROM market_events GROUP BY 1,2,3 ORDER BY 1,2,3" >&2 || true
