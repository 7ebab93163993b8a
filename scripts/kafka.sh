#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker:
# the broker jars come from Maven Central once (scripts/kafka/pom.xml) into $HIMARI_STATE_DIR.
#
#   scripts/kafka.sh start    reuse a healthy broker, recover a stale one, or start a new one
#   scripts/kafka.sh stop     stop it cleanly (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 when the broker answers metadata requests
#   scripts/kafka.sh reset    stop and delete its data
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KAFKA_HOME="$HIMARI_STATE_DIR/kafka"
LIB="$KAFKA_HOME/lib"
DATA="$KAFKA_HOME/data-$HIMARI_KAFKA_PORT"
PIDFILE="$KAFKA_HOME/broker-$HIMARI_KAFKA_PORT.pid"
LOG="$KAFKA_HOME/broker-$HIMARI_KAFKA_PORT.log"
PROPS="$KAFKA_HOME/server-$HIMARI_KAFKA_PORT.properties"
KAFKA_VERSION_MARK="$LIB/.complete-3.9.1"

need_java() {
  command -v java >/dev/null 2>&1 || die "Java 17+ is needed for the Kafka broker. Install it (Debian: apt-get install openjdk-17-jre-headless), or use Docker: docker compose up -d"
}

fetch_jars() {
  [ -f "$KAFKA_VERSION_MARK" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven is needed once to fetch the Kafka broker jars. Install it (Debian: apt-get install maven), or use Docker: docker compose up -d"
  say "fetching the Kafka broker jars from Maven Central into $LIB (once)"
  rm -rf "$LIB.tmp" && mkdir -p "$LIB.tmp"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB.tmp" >&2
  rm -rf "$LIB" && mv "$LIB.tmp" "$LIB" && touch "$KAFKA_VERSION_MARK"
}

write_config() {
  mkdir -p "$KAFKA_HOME"
  cat >"$PROPS" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT,CONTROLLER://127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=8
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=268435456
num.network.threads=2
num.io.threads=4
PROPS
  cat >"$KAFKA_HOME/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
L4J
}

# 512 MB heap is plenty for one local broker (the stock scripts use 1 GB).
java_cmd() {
  exec java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_HOME/log4j.properties" -cp "$LIB/*" "$@"
}

pid_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# Healthy = our broker process is alive and answers a metadata request.
healthy() {
  pid_alive || return 1
  port_open "$HIMARI_KAFKA_PORT" || return 1
  [ -f "$ROOT/node_modules/node-rdkafka/package.json" ] || return 0
  node "$ROOT/scripts/kafka-ready.mjs" "127.0.0.1:$HIMARI_KAFKA_PORT" 5000 >/dev/null 2>&1
}

stop() {
  if pid_alive; then
    local pid; pid=$(cat "$PIDFILE")
    say "stopping Kafka broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "broker did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
  fi
  rm -f "$PIDFILE"
}

format_storage() {
  local id; id=$( (java_cmd kafka.tools.StorageTool random-uuid) 2>/dev/null | tail -n 1)
  [ -n "$id" ] || die "kafka.tools.StorageTool random-uuid failed (see $LOG)"
  (java_cmd kafka.tools.StorageTool format -t "$id" -c "$PROPS") >>"$LOG" 2>&1 || die "formatting Kafka storage failed (see $LOG)"
}

launch() {
  : >"$LOG"
  [ -f "$DATA/meta.properties" ] || format_storage
  # The subshell execs java, so $! is the broker's pid; setsid keeps it out of our process group.
  (trap '' HUP; exec setsid bash -c "$(declare -f java_cmd); KAFKA_HOME='$KAFKA_HOME' LIB='$LIB' java_cmd kafka.Kafka '$PROPS'") >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_for 60 healthy
}

start() {
  need_java
  if healthy; then say "Kafka broker already running on 127.0.0.1:$HIMARI_KAFKA_PORT (pid $(cat "$PIDFILE"))"; return 0; fi
  fetch_jars
  write_config
  # Stale state: a pid file whose process is gone or hung, or someone else on our port.
  stop
  if port_open "$HIMARI_KAFKA_PORT"; then
    die "port $HIMARI_KAFKA_PORT is taken by a process that is not our broker; stop it or set HIMARI_KAFKA_PORT"
  fi
  say "starting Kafka broker on 127.0.0.1:$HIMARI_KAFKA_PORT (log: $LOG)"
  if launch; then say "Kafka broker ready"; return 0; fi
  # A broker that cannot start on its data (unclean shutdown mid-format, cluster id mismatch)
  # is recovered by starting over: this broker holds only local development data.
  say "broker did not become ready; recovering with fresh storage (last log lines below)"
  tail -n 20 "$LOG" >&2 || true
  stop
  rm -rf "$DATA"
  launch || { tail -n 40 "$LOG" >&2; die "Kafka broker failed to start (see $LOG)"; }
  say "Kafka broker ready"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) healthy ;;
  reset) stop; rm -rf "$DATA"; say "Kafka data removed" ;;
  *) die "usage: scripts/kafka.sh start|stop|status|reset" ;;
esac
