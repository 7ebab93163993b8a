#!/usr/bin/env bash
# Makes the local services answer: Kafka (scripts/kafka.sh), Redis and PostgreSQL (started if
# installed but stopped). Healthy services are reused, never restarted.
#   scripts/services.sh start | stop-kafka | status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REDIS_HOST=127.0.0.1 REDIS_PORT=6379
PG_HOST=127.0.0.1 PG_PORT=5432

redis_ok() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
pg_ok() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; }

start_redis() {
  redis_ok && { say "Redis answers on $REDIS_HOST:$REDIS_PORT"; return 0; }
  command -v redis-server >/dev/null 2>&1 || die "Redis is not running and not installed. Install it (Debian: apt-get install redis-server) or use Docker: docker compose up -d"
  say "starting Redis on 127.0.0.1:6379"
  mkdir -p "$HIMARI_STATE_DIR/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$HIMARI_STATE_DIR/redis" --logfile "$HIMARI_STATE_DIR/redis/redis.log"
  wait_for 20 redis_ok || die "Redis did not start (see $HIMARI_STATE_DIR/redis/redis.log)"
}

start_postgres() {
  pg_ok && { say "PostgreSQL answers on $PG_HOST:$PG_PORT"; return 0; }
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    local v; v=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $v"
    # A crashed server leaves a stale pid file; pg_ctlcluster refuses to start over it.
    local pidf="/var/run/postgresql/$v-main.pid"
    if [ -f "$pidf" ] && ! kill -0 "$(head -n 1 "$pidf")" 2>/dev/null; then rm -f "$pidf"; fi
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    wait_for 30 pg_ok || die "PostgreSQL did not start (see /var/log/postgresql/)"
  else
    die "PostgreSQL is not running and not installed. Install it (Debian: apt-get install postgresql) or use Docker: docker compose up -d"
  fi
}

case "${1:-start}" in
  start)
    start_redis
    start_postgres
    bash "$ROOT/scripts/kafka.sh" start
    ;;
  stop-kafka) bash "$ROOT/scripts/kafka.sh" stop ;;
  status)
    redis_ok && echo "redis: ok" || echo "redis: down"
    pg_ok && echo "postgres: ok" || echo "postgres: down"
    bash "$ROOT/scripts/kafka.sh" status && echo "kafka: ok" || echo "kafka: down"
    # Started by the security tests themselves (or by hand): scripts/kafka-secure.sh, scripts/pg-cluster.sh.
    bash "$ROOT/scripts/kafka-secure.sh" status 2>/dev/null && echo "kafka (secured, SASL_SSL/SSL): ok" || echo "kafka (secured, SASL_SSL/SSL): down"
    bash "$ROOT/scripts/pg-cluster.sh" status 2>/dev/null && echo "postgres (TLS cluster): ok" || echo "postgres (TLS cluster): down"
    ;;
  *) die "usage: scripts/services.sh start|stop-kafka|status" ;;
esac
