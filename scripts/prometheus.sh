#!/usr/bin/env bash
# Prometheus (and promtool) without Docker: Debian's `prometheus` package for the binaries, and a
# Prometheus of the project's own, run by this script on its own port, config and data directory.
# When this script installs the package, Debian's own prometheus service (port 9090) is not left
# running or enabled: its start is prevented while installing (policy-rc.d), then it is disabled.
#
#   scripts/prometheus.sh install   install the package when prometheus or promtool is missing
#                                   (apt-get; root). Exit 3: missing and not installable here.
#   scripts/prometheus.sh start     install if needed, then reuse a healthy Prometheus on the port
#                                   (its config reloaded), recover a stale one, or start a new one
#   scripts/prometheus.sh stop      stop it (SIGTERM, then SIGKILL after 30 s)
#   scripts/prometheus.sh status    exit 0 when ours answers /-/ready on the port
#   scripts/prometheus.sh reset     stop it and delete its data (only a data directory under the state dir)
#
# HIMARI_PROMETHEUS_PORT    listen port on 127.0.0.1 (default 9390)
# HIMARI_PROMETHEUS_CONFIG  config file (default: one written to the state dir that scrapes
#                           HIMARI_PROMETHEUS_TARGET, default 127.0.0.1:9464, every 5 s and loads
#                           deploy/prometheus/alerts.yml)
# HIMARI_PROMETHEUS_DATA    TSDB directory (default $HIMARI_STATE_DIR/prometheus/data-PORT)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${HIMARI_PROMETHEUS_PORT:=9390}"
: "${HIMARI_PROMETHEUS_TARGET:=127.0.0.1:9464}"

PROM_HOME="$HIMARI_STATE_DIR/prometheus"
: "${HIMARI_PROMETHEUS_DATA:=$PROM_HOME/data-$HIMARI_PROMETHEUS_PORT}"
PIDFILE="$PROM_HOME/prometheus-$HIMARI_PROMETHEUS_PORT.pid"
LOG="$PROM_HOME/prometheus-$HIMARI_PROMETHEUS_PORT.log"
# The config and data directory the running one was started with: another pair is another Prometheus.
ARGSFILE="$PROM_HOME/prometheus-$HIMARI_PROMETHEUS_PORT.args"
DEFAULT_CONFIG="$PROM_HOME/prometheus-$HIMARI_PROMETHEUS_PORT.yml"
CONFIG="${HIMARI_PROMETHEUS_CONFIG:-$DEFAULT_CONFIG}"
URL="http://127.0.0.1:$HIMARI_PROMETHEUS_PORT"

have_binaries() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

systemd_running() { [ -d /run/systemd/system ]; }

# Debian's packaged service: stopped and disabled, so that it neither holds port 9090 now nor
# starts at the next boot. Ours runs from this script with its own config.
disable_debian_service() {
  if command -v systemctl >/dev/null 2>&1; then
    # Works without a running systemd too (it removes the enablement symlink).
    systemctl disable prometheus.service >/dev/null 2>&1 || true
    if systemd_running; then systemctl stop prometheus.service >/dev/null 2>&1 || true; fi
  fi
  if [ -x /etc/init.d/prometheus ] && ! systemd_running; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  # Started anyway (an init without policy-rc.d support): the package runs it as user prometheus.
  local pids; pids=$(pgrep -u prometheus -x prometheus 2>/dev/null || true)
  if [ -n "$pids" ]; then
    say "stopping Debian's prometheus service (pid $pids)"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
  fi
}

install() {
  # Installed already: Debian's service is left as whoever installed the package set it up.
  have_binaries && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "prometheus/promtool are missing and cannot be installed here (needs root and apt-get):"
    say "  sudo apt-get install --no-install-recommends prometheus"
    exit 3
  fi
  say "installing Debian's prometheus package (prometheus, promtool)"
  # policy-rc.d answering 101 keeps the package's postinst from starting its service on 9090.
  # An existing policy-rc.d (a container's) is left as it is.
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/prometheus.sh: no service starts while it installs prometheus\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
  fi
  local rc=0
  { apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2; } || rc=$?
  if [ "$ours" = 1 ]; then rm -f "$policy"; fi
  [ "$rc" = 0 ] || die "apt-get install prometheus failed"
  disable_debian_service
  have_binaries || die "the prometheus package is installed but prometheus or promtool is not on PATH"
  say "installed $(prometheus --version 2>&1 | head -n 1)"
}

# Alive = the pid file's process runs and is a prometheus (not a zombie awaiting its reaper, nor
# another program that got the pid after ours died).
pid_alive() {
  [ -f "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = prometheus ] || return 1
  ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null
}

answers() { curl -fsS --max-time 3 "$URL/-/ready" >/dev/null 2>&1; }

# Healthy = our process is alive and answers on the port.
healthy() { pid_alive && answers; }

# Ours, and started with the config and data directory asked for now.
same_args() { [ -f "$ARGSFILE" ] && [ "$(cat "$ARGSFILE")" = "$CONFIG $HIMARI_PROMETHEUS_DATA" ]; }

stop() {
  if pid_alive; then
    local pid; pid=$(cat "$PIDFILE")
    say "stopping Prometheus on port $HIMARI_PROMETHEUS_PORT (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do pid_alive || break; sleep 0.5; done
    pid_alive && { say "Prometheus did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
  fi
  rm -f "$PIDFILE" "$ARGSFILE"
}

write_default_config() {
  [ -n "${HIMARI_PROMETHEUS_CONFIG:-}" ] && return 0
  cat >"$DEFAULT_CONFIG" <<YML
# Written by scripts/prometheus.sh: the processor on $HIMARI_PROMETHEUS_TARGET and the project's alert rules.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $ROOT/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: himari-l0
    static_configs:
      - targets: ["$HIMARI_PROMETHEUS_TARGET"]
YML
}

launch() {
  : >"$LOG"
  mkdir -p "$HIMARI_PROMETHEUS_DATA"
  (trap '' HUP; exec setsid prometheus --config.file="$CONFIG" --storage.tsdb.path="$HIMARI_PROMETHEUS_DATA" \
    --web.listen-address="127.0.0.1:$HIMARI_PROMETHEUS_PORT" --storage.tsdb.retention.time=15d) >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  echo "$CONFIG $HIMARI_PROMETHEUS_DATA" >"$ARGSFILE"
  wait_for 60 healthy
}

# Deleted on recovery and reset only when it is ours: under the state dir.
own_data() { case "$HIMARI_PROMETHEUS_DATA" in "$HIMARI_STATE_DIR"/*) return 0 ;; *) return 1 ;; esac; }

start() {
  install
  mkdir -p "$PROM_HOME"
  write_default_config
  [ -f "$CONFIG" ] || die "config file $CONFIG not found (HIMARI_PROMETHEUS_CONFIG)"
  promtool check config "$CONFIG" >"$PROM_HOME/check-config.log" 2>&1 || { cat "$PROM_HOME/check-config.log" >&2; die "promtool check config $CONFIG failed"; }
  if healthy && same_args; then
    # Reused: SIGHUP makes it read the config and rule files again (they may have changed).
    kill -HUP "$(cat "$PIDFILE")"
    say "Prometheus already running on $URL (pid $(cat "$PIDFILE")); config reloaded"
    return 0
  fi
  # Stale state: a pid file whose process is gone or hung, or ours with another config or data dir.
  stop
  if port_open "$HIMARI_PROMETHEUS_PORT"; then
    die "port $HIMARI_PROMETHEUS_PORT is taken by a process that is not our Prometheus; stop it or set HIMARI_PROMETHEUS_PORT"
  fi
  say "starting Prometheus on $URL (config: $CONFIG, data: $HIMARI_PROMETHEUS_DATA, log: $LOG)"
  if launch; then say "Prometheus ready"; return 0; fi
  tail -n 20 "$LOG" >&2 || true
  stop
  # A TSDB it cannot open (a disk filled mid-write) is recovered by starting over, when it is ours.
  own_data || die "Prometheus did not become ready (see $LOG)"
  say "Prometheus did not become ready; recovering with a fresh data directory"
  rm -rf "$HIMARI_PROMETHEUS_DATA"
  launch || { tail -n 40 "$LOG" >&2; stop; die "Prometheus failed to start (see $LOG)"; }
  say "Prometheus ready"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) healthy ;;
  reset)
    stop
    own_data || die "reset deletes only a data directory under $HIMARI_STATE_DIR (not $HIMARI_PROMETHEUS_DATA)"
    rm -rf "$HIMARI_PROMETHEUS_DATA"; say "Prometheus data removed" ;;
  *) die "usage: scripts/prometheus.sh install|start|stop|status|reset" ;;
esac
