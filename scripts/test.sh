#!/usr/bin/env bash
# All tests: unit tests, then integration tests against the real Kafka broker, Redis and
# PostgreSQL that scripts/services.sh starts (reused when healthy), then the fault suite's ci
# profile (scripts/test-faults.sh). This is `npm test`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/bootstrap.sh
bash scripts/services.sh start

mapfile -t unit < <(find dist/test -name '*.test.js' -not -path '*/integration/*' | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' | sort)
mapfile -t faults < <(fault_files)
export FAULTS_PROFILE=ci
rm -f results/faults-ci.json
say "running ${#unit[@]} unit, ${#integration[@]} integration and ${#faults[@]} fault-suite (ci profile) test files"
# One file at a time: the integration tests share the broker and the machine's two cores. One
# runner for all, so the run ends with one summary of every test and fails if any did.
exec node --test --test-concurrency=1 --test-reporter=spec "${unit[@]}" "${integration[@]}" "${faults[@]}"
