#!/usr/bin/env bash
# npm run profile: the processor under a synthetic load, profiled three ways, one run each, with
# the reports left in profiles/<UTC time>/:
#   doctor.html        clinic doctor: CPU, memory, event-loop delay, active handles over the run
#   flame.html         clinic flame (0x underneath): flame graph of the main thread's stacks
#   cpuprofile/        node --cpu-prof: one .cpuprofile per thread (tid 0 = main thread), and
#   summary.md         the top frames by self time of each thread, and its event-loop stalls of
#                      PROFILE_STALL_MS (20) or more: when, how long, how much of it waiting for
#                      a core, GC, which callbacks and frames ran (bench/cpu-profile.ts)
#   perf.md            perf (Linux, `PROFILE_TOOLS=perf`, not in the default set): CPU per event by
#                      kind of thread (main, check workers, librdkafka, V8's helpers) with native
#                      frames, which V8's profiles show only as "(program)", and where the main
#                      thread's time goes (bench/perf-summary.ts); perf.data beside it
# Each run: a fresh topic; the processor starts first (`run --stop-when-idle`), then the load
# generator (`produce --rate R --duration S`); the processor drains, commits and exits by itself
# when the topic goes quiet, and clinic writes its report on that exit.
# With PROFILE_COUNT=N the run profiles a drain instead: N events are produced first, as fast as
# the generator goes, and the processor starts on the backlog (the generator then competes for
# no core while it is profiled).
# Env: PROFILE_RATE (events/s, 10000), PROFILE_DURATION (s, 20), PROFILE_COUNT (unset: the rate
# run), PROFILE_TOOLS ("doctor flame cpuprof"), PROFILE_STALL_MS (20), PROFILE_TOPIC_PREFIX (profile), PROFILE_DIR; any
# HIMARI_* config (Redis/PostgreSQL URLs, metrics port ...) passes through to the processor.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

RATE=${PROFILE_RATE:-10000}
DURATION=${PROFILE_DURATION:-20}
COUNT=${PROFILE_COUNT:-}
[ -z "$COUNT" ] || [[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || die "PROFILE_COUNT must be a positive number of events, got '$COUNT'"
TOOLS=${PROFILE_TOOLS:-doctor flame cpuprof}
PREFIX=${PROFILE_TOPIC_PREFIX:-profile}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${PROFILE_DIR:-$ROOT/profiles/$stamp}
clinic="$ROOT/node_modules/.bin/clinic"
[ -x "$clinic" ] || die "clinic is not installed: npm install (it is a devDependency)"

npx --no-install tsc -p tsconfig.json >&2
bash scripts/services.sh start
mkdir -p "$out"
# clinic asks once whether it may send usage data; never ask (no terminal in CI).
export NO_INSIGHT=true
cli="$ROOT/dist/src/cli.js"

if [ -n "$COUNT" ]; then
  LOAD="a drain of $COUNT events"
  MAX_SECONDS=3600
else
  LOAD="$RATE events/s for $DURATION s"
  MAX_SECONDS=$((DURATION + 300))
fi

# Runs the processor with the profiler command in "$@" (which ends where the processor's node
# arguments begin), waits until it is ready, produces the load (or, for a drain, produces the
# backlog first), then waits for it to exit.
profile_one() {
  local name=$1; shift
  local topic="$PREFIX-$name-$stamp"
  local log="$out/$name.log"
  produce() {
    HIMARI_KAFKA_TOPICS="$topic" HIMARI_KAFKA_DEAD_LETTER_TOPIC="$topic.dlq" \
      node "$cli" produce "$@" >"$out/$name.produce.log" 2>&1
  }
  if [ -n "$COUNT" ]; then
    say "$name: a backlog of $COUNT events on topic $topic, then the processor drains it"
    produce --rate 0 --count "$COUNT" || die "$name: producing the backlog failed (see $out/$name.produce.log)"
  else
    say "$name: processor on topic $topic, then $RATE events/s for $DURATION s"
  fi
  (
    export HIMARI_KAFKA_TOPICS="$topic" HIMARI_KAFKA_GROUP_ID="$topic" HIMARI_KAFKA_DEAD_LETTER_TOPIC="$topic.dlq" HIMARI_KAFKA_CREATE_TOPICS=true
    cd "$out"
    exec "$@" "$cli" run --stop-when-idle 3000 --max-seconds "$MAX_SECONDS"
  ) >"$log" 2>&1 &
  local pid=$!
  local deadline=$((SECONDS + 120))
  until grep -q 'himari-l0: ready' "$log"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name: the processor exited before it was ready (see $log)"; }
    [ "$SECONDS" -lt "$deadline" ] || { kill -INT "$pid"; die "$name: not ready after 120 s (see $log)"; }
    sleep 0.5
  done
  if [ -z "$COUNT" ]; then
    produce --rate "$RATE" --duration "$DURATION" || { kill -INT "$pid"; die "$name: the load generator failed (see $out/$name.produce.log)"; }
  fi
  # The processor stops 3 s after the last message; clinic then analyses and writes the HTML.
  wait "$pid" || die "$name: the processor or the profiler failed (see $log)"
  grep -A 4 'himari-l0 run summary' "$log" | sed -n '2p' >&2 || true
}

# The newest file matching a glob under $out, or nothing.
newest() { ls -t $1 2>/dev/null | head -n 1; }

for tool in $TOOLS; do
  case $tool in
    doctor)
      profile_one doctor "$clinic" doctor --open=false --dest "$out/.clinic" -- node
      html=$(newest "$out/.clinic/*doctor.html")
      [ -n "$html" ] || die "doctor: no report in $out/.clinic (see $out/doctor.log)"
      cp "$html" "$out/doctor.html"
      ;;
    flame)
      profile_one flame "$clinic" flame --open=false --dest "$out/.clinic" -- node
      html=$(newest "$out/.clinic/*flame.html")
      [ -n "$html" ] || die "flame: no report in $out/.clinic (see $out/flame.log)"
      cp "$html" "$out/flame.html"
      ;;
    cpuprof)
      profile_one cpuprof node --cpu-prof --cpu-prof-dir="$out/cpuprofile"
      {
        echo "# CPU profile: self time per function, $LOAD ($stamp)"
        echo
        echo "One profile per thread (file name: CPU.<date>.<time>.<pid>.<thread id>.<seq>; thread 0 is the main thread)."
        echo
        for f in "$out"/cpuprofile/*.cpuprofile; do node "$ROOT/dist/bench/cpu-profile.js" --top 20 --stalls "${PROFILE_STALL_MS:-20}" "$f"; done
      } >"$out/summary.md"
      ;;
    perf)
      command -v perf >/dev/null 2>&1 || die "perf is not installed (Debian: apt-get install linux-perf)"
      # 499 Hz: off the beat of the 1 ms and 5 ms timers; call graphs for the categories.
      profile_one perf perf record -F 499 -g -o "$out/perf.data" -- node --perf-basic-prof
      if [ -n "$COUNT" ]; then events=$COUNT; else events=$((RATE * DURATION)); fi
      perf script -i "$out/perf.data" -F comm,pid,tid,ip,sym 2>/dev/null \
        | node "$ROOT/dist/bench/perf-summary.js" --events "$events" --freq 499 >"$out/perf.md"
      ;;
    *) die "unknown profiler '$tool' (doctor, flame, cpuprof, perf)" ;;
  esac
done
say "reports in $out: $(cd "$out" && ls -d doctor.html flame.html summary.md perf.md 2>/dev/null | tr '\n' ' ')"
