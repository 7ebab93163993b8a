#!/usr/bin/env bash
# The fault suite (issue #13): the real processor against the real broker, Redis and PostgreSQL,
# each sink behind a TCP proxy the suite switches, and a second broker of its own (port 9192) for
# restarts and network faults (a TCP proxy in front of it); one verifier after every scenario. This is `npm run test:faults`.
#   FAULTS_PROFILE=ci    every scenario at reduced volume (~10 minutes on 2 cores; the default)
#   FAULTS_PROFILE=full  the issue's volumes: 1,000,000 events, >= 10 kill -9, 30 s outages
#   FAULTS_SEED=N        replays a run's random choices (kill moments, which instance dies)
# Figures go to results/faults-<profile>.json and are printed as a table at the end; a failed
# scenario leaves its processors' logs in results/tmp/faults-<profile>/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
export FAULTS_PROFILE="${FAULTS_PROFILE:-ci}"

bash scripts/bootstrap.sh
bash scripts/services.sh start

mapfile -t faults < <(fault_files)
rm -rf "results/faults-$FAULTS_PROFILE.json" "results/tmp/faults-$FAULTS_PROFILE"
say "fault suite, profile $FAULTS_PROFILE: ${#faults[@]} files"
status=0
# One scenario at a time: they share the broker and the machine's two cores.
node --test --test-concurrency=1 --test-reporter=spec "${faults[@]}" || status=$?
node dist/test/faults/print-figures.js
exit "$status"
