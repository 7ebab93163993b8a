#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker:
# the broker jars come from Maven Central once (scripts/kafka/pom.xml) into $HIMARI_STATE_DIR.
#
#   scripts/kafka.sh start    reuse a healthy broker, recover a stale one, or start a new one
#   scripts/kafka.sh stop     stop it cleanly (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 when the broker answers metadata requests
#   scripts/kafka.sh reset    stop and delete its data
#   scripts/kafka.sh env L    (secured broker) the processor's HIMARI_KAFKA_* settings for listener
#                             L (sasl_ssl or ssl), one VAR=value a line
#
# HIMARI_KAFKA_PROXIED_PORT (with HIMARI_KAFKA_PROXY_PORT) adds a plaintext listener on that port
# that advertises 127.0.0.1:HIMARI_KAFKA_PROXY_PORT, where a TCP proxy forwards to it.
#
# HIMARI_KAFKA_SECURE=1 (scripts/kafka-secure.sh) makes a secured broker instead: a SASL_SSL
# listener (SCRAM-SHA-512) on HIMARI_KAFKA_PORT and an SSL listener that requires a client
# certificate on HIMARI_KAFKA_SSL_PORT, certificates from scripts/tls.sh, the SCRAM user created
# when the storage is formatted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${HIMARI_KAFKA_SECURE:=0}"
: "${HIMARI_KAFKA_SSL_PORT:=$((HIMARI_KAFKA_PORT + 1))}"

KAFKA_HOME="$HIMARI_STATE_DIR/kafka"
LIB="$KAFKA_HOME/lib"
DATA="$KAFKA_HOME/data-$HIMARI_KAFKA_PORT"
PIDFILE="$KAFKA_HOME/broker-$HIMARI_KAFKA_PORT.pid"
LOG="$KAFKA_HOME/broker-$HIMARI_KAFKA_PORT.log"
PROPS="$KAFKA_HOME/server-$HIMARI_KAFKA_PORT.properties"
KAFKA_VERSION_MARK="$LIB/.complete-3.9.1"
# Secured broker: key stores, generated passwords and client settings (files readable by us only).
SECURE="$KAFKA_HOME/secure-$HIMARI_KAFKA_PORT"
SCRAM_USER=himari

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

secure() { [ "$HIMARI_KAFKA_SECURE" = 1 ]; }

# A random secret in $SECURE/$1, made once (hex: safe in properties files and SCRAM arguments).
secret() {
  [ -s "$SECURE/$1" ] || { (umask 077; openssl rand -hex 16 >"$SECURE/$1"); }
  cat "$SECURE/$1"
}

# The secured broker's key and trust stores (PKCS12), remade when the certificates are newer,
# and the librdkafka settings a client needs for each listener (the health check reads them).
prepare_secure() {
  command -v keytool >/dev/null 2>&1 || die "keytool (Java 17) is needed for the secured Kafka broker's key stores"
  local tls; tls=$(bash "$ROOT/scripts/tls.sh" ensure)
  mkdir -p "$SECURE" && chmod 700 "$SECURE"
  local pass; pass=$(secret store-password)
  secret scram-password >/dev/null
  if [ ! -s "$SECURE/keystore.p12" ] || [ "$tls/server.pem" -nt "$SECURE/keystore.p12" ]; then
    rm -f "$SECURE/keystore.p12" "$SECURE/truststore.p12"
    openssl pkcs12 -export -name broker -in "$tls/server.pem" -inkey "$tls/server.key" -certfile "$tls/ca.pem" \
      -passout "pass:$pass" -out "$SECURE/keystore.p12"
    keytool -importcert -noprompt -alias ca -file "$tls/ca.pem" -storetype PKCS12 \
      -keystore "$SECURE/truststore.p12" -storepass "$pass" >/dev/null 2>&1 || die "keytool could not make the trust store"
  fi
  (umask 077
   printf 'security.protocol=sasl_ssl\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=%s\nsasl.password=%s\nssl.ca.location=%s\n' \
     "$SCRAM_USER" "$(secret scram-password)" "$tls/ca.pem" >"$SECURE/client-sasl_ssl.properties"
   printf 'security.protocol=ssl\nssl.ca.location=%s\nssl.certificate.location=%s\nssl.key.location=%s\n' \
     "$tls/ca.pem" "$tls/client.pem" "$tls/client.key" >"$SECURE/client-ssl.properties")
}

proxied() { [ -n "${HIMARI_KAFKA_PROXIED_PORT:-}" ]; }

listener_config() {
  if ! secure; then
    if proxied; then
      # A second plaintext listener that advertises a TCP proxy's port (the fault suite's):
      # clients that bootstrap through the proxy are told to reach the broker, its group
      # coordinator included, through the proxy too, so the proxy cuts all of their traffic.
      cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT,PROXIED://127.0.0.1:$HIMARI_KAFKA_PROXIED_PORT,CONTROLLER://127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT,PROXIED://127.0.0.1:$HIMARI_KAFKA_PROXY_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
      return
    fi
    cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT,CONTROLLER://127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$HIMARI_KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
    return
  fi
  local pass; pass=$(secret store-password)
  # The controller listener stays plaintext on loopback: only this process talks to it.
  cat <<PROPS
listeners=SASL_SSL://127.0.0.1:$HIMARI_KAFKA_PORT,SSL://127.0.0.1:$HIMARI_KAFKA_SSL_PORT,CONTROLLER://127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$HIMARI_KAFKA_PORT,SSL://127.0.0.1:$HIMARI_KAFKA_SSL_PORT
inter.broker.listener.name=SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.client.auth=required
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE/keystore.p12
ssl.keystore.password=$pass
ssl.key.password=$pass
ssl.truststore.type=PKCS12
ssl.truststore.location=$SECURE/truststore.p12
ssl.truststore.password=$pass
ssl.endpoint.identification.algorithm=https
PROPS
}

write_config() {
  mkdir -p "$KAFKA_HOME"
  (umask 077; cat >"$PROPS" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$HIMARI_KAFKA_CONTROLLER_PORT
$(listener_config)
controller.listener.names=CONTROLLER
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
  )
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
  # A broker started without the proxied listener is not the one asked for: restarted with it.
  if proxied; then port_open "$HIMARI_KAFKA_PROXIED_PORT" || return 1; fi
  [ -f "$ROOT/node_modules/node-rdkafka/package.json" ] || return 0
  if secure; then
    # Both listeners, with the credentials and certificates clients use: a broker formatted
    # with another SCRAM password, or serving other certificates, is not ours.
    port_open "$HIMARI_KAFKA_SSL_PORT" || return 1
    node "$ROOT/scripts/kafka-ready.mjs" "127.0.0.1:$HIMARI_KAFKA_PORT" 5000 "$SECURE/client-sasl_ssl.properties" >/dev/null 2>&1 &&
      node "$ROOT/scripts/kafka-ready.mjs" "127.0.0.1:$HIMARI_KAFKA_SSL_PORT" 5000 "$SECURE/client-ssl.properties" >/dev/null 2>&1
  else
    node "$ROOT/scripts/kafka-ready.mjs" "127.0.0.1:$HIMARI_KAFKA_PORT" 5000 >/dev/null 2>&1
  fi
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
  local scram=()
  # KRaft has no ZooKeeper to hold SCRAM credentials: the first user goes into the bootstrap metadata.
  if secure; then scram=(--add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$(secret scram-password)]"); fi
  (java_cmd kafka.tools.StorageTool format -t "$id" -c "$PROPS" "${scram[@]}") >>"$LOG" 2>&1 || die "formatting Kafka storage failed (see $LOG)"
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
  # The secured broker's client settings must exist before the health check reads them.
  if secure; then prepare_secure; fi
  if healthy; then say "Kafka broker already running on 127.0.0.1:$HIMARI_KAFKA_PORT (pid $(cat "$PIDFILE"))"; return 0; fi
  fetch_jars
  write_config
  # Stale state: a pid file whose process is gone or hung, or someone else on our port.
  stop
  if port_open "$HIMARI_KAFKA_PORT"; then
    die "port $HIMARI_KAFKA_PORT is taken by a process that is not our broker; stop it or set HIMARI_KAFKA_PORT"
  fi
  if proxied && port_open "$HIMARI_KAFKA_PROXIED_PORT"; then
    die "port $HIMARI_KAFKA_PROXIED_PORT is taken by a process that is not our broker; stop it or set HIMARI_KAFKA_PROXIED_PORT"
  fi
  if secure && port_open "$HIMARI_KAFKA_SSL_PORT"; then
    die "port $HIMARI_KAFKA_SSL_PORT is taken by a process that is not our broker; stop it or set HIMARI_KAFKA_SSL_PORT"
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

# The processor's settings for one listener of the secured broker (`eval` them, or pass as env).
client_env() {
  secure || die "env: only the secured broker (scripts/kafka-secure.sh) has client settings"
  local tls; tls=$(bash "$ROOT/scripts/tls.sh" ensure)
  mkdir -p "$SECURE" && chmod 700 "$SECURE"
  case "${1:-sasl_ssl}" in
    sasl_ssl)
      printf 'HIMARI_KAFKA_BROKERS=127.0.0.1:%s\nHIMARI_KAFKA_SECURITY_PROTOCOL=sasl_ssl\nHIMARI_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n' "$HIMARI_KAFKA_PORT"
      printf 'HIMARI_KAFKA_SASL_USERNAME=%s\nHIMARI_KAFKA_SASL_PASSWORD=%s\nHIMARI_KAFKA_SSL_CA_FILE=%s\n' "$SCRAM_USER" "$(secret scram-password)" "$tls/ca.pem" ;;
    ssl)
      printf 'HIMARI_KAFKA_BROKERS=127.0.0.1:%s\nHIMARI_KAFKA_SECURITY_PROTOCOL=ssl\n' "$HIMARI_KAFKA_SSL_PORT"
      printf 'HIMARI_KAFKA_SSL_CA_FILE=%s\nHIMARI_KAFKA_SSL_CERT_FILE=%s\nHIMARI_KAFKA_SSL_KEY_FILE=%s\n' "$tls/ca.pem" "$tls/client.pem" "$tls/client.key" ;;
    *) die "env: listener is sasl_ssl or ssl" ;;
  esac
}

case "${1:-start}" in
  start) start ;;
  env) client_env "${2:-sasl_ssl}" ;;
  stop) stop ;;
  status) healthy ;;
  reset) stop; rm -rf "$DATA"; say "Kafka data removed" ;;
  *) die "usage: scripts/kafka.sh start|stop|status|reset|env [sasl_ssl|ssl]" ;;
esac
