#!/usr/bin/env bash
# All tests: unit tests, then integration tests against the real Kafka broker, Redis and
# PostgreSQL that scripts/services.sh starts (reused when healthy), on the machine's Node; the unit
# tests again on Node 24 LTS (scripts/node24.sh: its own Node and node_modules, installed once);
# then the fault suite's ci profile (scripts/test-faults.sh). This is `npm test`; it ends with
# "N passed, N failed" over all the runs and exits non-zero if any test failed.
# The security tests (kafka-security, postgres-tls, postgres-role, secrets) also need the secured
# broker and the TLS cluster; each starts them itself (scripts/kafka-secure.sh, scripts/pg-cluster.sh),
# so it also runs alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/bootstrap.sh
bash scripts/services.sh start
# promtool and Prometheus for the alert-rule and real-Prometheus tests (Debian's package, once).
bash scripts/prometheus.sh install

mapfile -t unit < <(find dist/test -name '*.test.js' -not -path '*/integration/*' | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' | sort)
mapfile -t faults < <(fault_files)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
status=0

say "running ${#unit[@]} unit and ${#integration[@]} integration test files"
# One file at a time: the integration tests share the broker and the machine's two cores.
node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$reports/tests.tap" "${unit[@]}" "${integration[@]}" || status=1

# The unit tests again on Node 24 LTS, the runtime of the Docker image (package.json's engines
# names both). A failed install of Node 24 or of its modules fails the run like a failed test.
bash scripts/node24.sh test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$reports/node24.tap" || status=1

# Then the fault suite's ci profile (scripts/test-faults.sh runs it alone, or the full profile).
say "running the fault suite, ci profile: ${#faults[@]} files"
rm -rf results/faults-ci.json results/tmp/faults-ci
FAULTS_PROFILE=ci node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$reports/faults.tap" "${faults[@]}" || status=1
FAULTS_PROFILE=ci node dist/test/faults/print-figures.js || status=1

read -r passed failed < <(tap_counts "$reports"/*.tap)
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit "$status"
