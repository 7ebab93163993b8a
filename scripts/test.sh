#!/usr/bin/env bash
# All tests: unit tests, then integration tests against the real Kafka broker, Redis and
# PostgreSQL that scripts/services.sh starts (reused when healthy). This is `npm test`.
# The security tests (kafka-security, postgres-tls, postgres-role, secrets) also need the secured
# broker and the TLS cluster; each starts them itself (scripts/kafka-secure.sh, scripts/pg-cluster.sh),
# so it also runs alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/bootstrap.sh
bash scripts/services.sh start

mapfile -t unit < <(find dist/test -name '*.test.js' -not -path '*/integration/*' | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' | sort)
say "running ${#unit[@]} unit and ${#integration[@]} integration test files"
# One file at a time: the integration tests share the broker and the machine's two cores.
exec node --test --test-concurrency=1 --test-reporter=spec "${unit[@]}" "${integration[@]}"
