#!/usr/bin/env bash
# The secured test broker: scripts/kafka.sh with HIMARI_KAFKA_SECURE=1 on ports of its own, from
# the same jars, beside the plaintext broker. SASL_SSL (SCRAM-SHA-512) on 19092, SSL with a
# required client certificate on 19093, its KRaft controller on 19094.
#
#   scripts/kafka-secure.sh start|stop|status|reset
#   scripts/kafka-secure.sh env sasl_ssl|ssl   the processor's HIMARI_KAFKA_* settings for a listener
set -euo pipefail
export HIMARI_KAFKA_SECURE=1
export HIMARI_KAFKA_PORT="${HIMARI_KAFKA_SECURE_PORT:-19092}"
export HIMARI_KAFKA_SSL_PORT=$((HIMARI_KAFKA_PORT + 1))
export HIMARI_KAFKA_CONTROLLER_PORT=$((HIMARI_KAFKA_PORT + 2))
exec bash "$(dirname "$0")/kafka.sh" "$@"
