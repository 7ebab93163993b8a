#!/usr/bin/env bash
# A PostgreSQL cluster of the project's own, beside the system one: the distribution's binaries
# (initdb, pg_ctl), data under $HIMARI_STATE_DIR, TLS on (server certificate from scripts/tls.sh),
# TCP on 127.0.0.1 only and only over TLS (hostssl; a plaintext client matches no pg_hba line),
# no Unix socket, SCRAM passwords; the superuser's password is generated once.
#
#   scripts/pg-cluster.sh start    reuse a healthy cluster, restart one whose settings changed,
#                                  recover a stale one, or create a new one
#   scripts/pg-cluster.sh stop     stop it (fast shutdown)
#   scripts/pg-cluster.sh status   exit 0 when it answers a TLS-verified query as the superuser
#   scripts/pg-cluster.sh reset    stop it and delete its data
#   scripts/pg-cluster.sh env      the processor's HIMARI_POSTGRES_* settings (superuser, verify-full)
#
# Environment: HIMARI_PG_PORT (5434), HIMARI_PG_NAME (tls; one cluster per name and port),
# HIMARI_PG_PRELOAD (shared_preload_libraries, e.g. timescaledb; applied by a restart),
# HIMARI_PG_BIN (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

: "${HIMARI_PG_PORT:=5434}"
: "${HIMARI_PG_NAME:=tls}"
: "${HIMARI_PG_PRELOAD:=}"
if [ -z "${HIMARI_PG_BIN:-}" ]; then
  HIMARI_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$HIMARI_PG_BIN" ] && [ -x "$HIMARI_PG_BIN/initdb" ] ||
  die "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb). Install them (Debian: apt-get install postgresql) or set HIMARI_PG_BIN"

HOME_DIR="$HIMARI_STATE_DIR/pg/$HIMARI_PG_NAME-$HIMARI_PG_PORT"
PASSFILE="$HOME_DIR/superuser-password"
mkdir -p "$HOME_DIR"

# PostgreSQL refuses to run as root. As root, the server runs as the system's `postgres` user,
# whose data directory must be a path that user can reach: the state directory under /root is
# not, so then the data lives in that user's home instead (the rest stays in the state dir),
# under a name that includes the state directory's, so two state directories never share it.
RUN_AS=""
DATA="$HOME_DIR/data"
if [ "$(id -u)" = 0 ]; then
  RUN_AS=${HIMARI_PG_USER:-postgres}
  getent passwd "$RUN_AS" >/dev/null || die "running as root: PostgreSQL needs an unprivileged user to run as; user '$RUN_AS' does not exist (set HIMARI_PG_USER)"
  if ! runuser -u "$RUN_AS" -- test -x "$HOME_DIR" 2>/dev/null; then
    DATA="$(getent passwd "$RUN_AS" | cut -d: -f6)/himari-l0/$(printf %s "$HIMARI_STATE_DIR" | sha256sum | cut -c1-8)-$HIMARI_PG_NAME-$HIMARI_PG_PORT"
  fi
fi

# Beside the data directory: the server writes it as its own user.
LOG="$DATA.log"

as_server() { if [ -n "$RUN_AS" ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi; }
pg_ctl_() { as_server "$HIMARI_PG_BIN/pg_ctl" -D "$DATA" "$@"; }

password() {
  [ -s "$PASSFILE" ] || { (umask 077; openssl rand -hex 16 >"$PASSFILE"); }
  cat "$PASSFILE"
}

# The settings this script owns, kept apart from initdb's postgresql.conf (included from it).
desired_conf() {
  cat <<CONF
# Written by scripts/pg-cluster.sh at every start; edit the script, not this file.
port = $HIMARI_PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
shared_preload_libraries = '$HIMARI_PG_PRELOAD'
shared_buffers = '128MB'
max_connections = 60
logging_collector = off
CONF
}

# TCP over TLS only: a connection without TLS matches no line and is refused. The role
# himari_cert logs in by its client certificate (CN=himari_cert, signed by the test CA).
desired_hba() {
  cat <<HBA
# Written by scripts/pg-cluster.sh at every start.
hostssl all himari_cert 127.0.0.1/32 cert
hostssl all all 127.0.0.1/32 scram-sha-256
HBA
}

# Copies the certificates into the data directory (the server reads them as its own user, and
# requires the key to be private to it) and writes the configuration; CHANGED=1 when it changed.
CHANGED=0
install_files() {
  local tls; tls=$(bash "$ROOT/scripts/tls.sh" ensure)
  local tmp; tmp=$(mktemp -d)
  desired_conf >"$tmp/himari.conf"
  desired_hba >"$tmp/pg_hba.conf"
  cp "$tls/server.pem" "$tmp/server.crt"
  cp "$tls/server.key" "$tmp/server.key"
  cp "$tls/ca.pem" "$tmp/root.crt"
  local f
  for f in himari.conf pg_hba.conf server.crt server.key root.crt; do
    if ! cmp -s "$tmp/$f" "$DATA/$f"; then
      CHANGED=1
      install -m 600 ${RUN_AS:+-o "$RUN_AS"} "$tmp/$f" "$DATA/$f"
    fi
  done
  rm -rf "$tmp"
  grep -q "^include_if_exists = 'himari.conf'" "$DATA/postgresql.conf" ||
    printf "\ninclude_if_exists = 'himari.conf'\n" | as_server tee -a "$DATA/postgresql.conf" >/dev/null
  return 0
}

create() {
  say "creating PostgreSQL cluster '$HIMARI_PG_NAME' in $DATA"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ -z "$RUN_AS" ] || chown "$RUN_AS" "$DATA" "$(dirname "$DATA")"
  chmod 700 "$DATA"
  # initdb reads the password from a file (a pipe of ours cannot be reopened by the server's
  # user); it exists only while initdb runs.
  local pw; pw=$(mktemp)
  password >"$pw"
  [ -z "$RUN_AS" ] || chown "$RUN_AS" "$pw"
  as_server "$HIMARI_PG_BIN/initdb" -D "$DATA" -U postgres --auth=scram-sha-256 --pwfile="$pw" \
    --encoding=UTF8 --locale=C.UTF-8 >>"$LOG" 2>&1 || { rm -f "$pw"; die "initdb failed (see $LOG)"; }
  rm -f "$pw"
}

server_pid() { [ -f "$DATA/postmaster.pid" ] && head -n 1 "$DATA/postmaster.pid"; }
pid_alive() { local pid; pid=$(server_pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

psql_() {
  PGPASSWORD=$(password) "$HIMARI_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$HIMARI_PG_PORT user=postgres dbname=postgres sslmode=verify-full sslrootcert=$HIMARI_STATE_DIR/tls/ca.pem connect_timeout=5" "$@"
}

# Healthy = our server process is alive and answers a query over verified TLS with our password.
healthy() {
  pid_alive || return 1
  [ "$(psql_ -tAc 'SELECT 1' 2>/dev/null)" = 1 ]
}

launch() {
  # setsid: the server outlives the shell (and a Ctrl-C) that started it.
  : >>"$LOG"
  [ -z "$RUN_AS" ] || chown "$RUN_AS" "$LOG"
  setsid --wait bash -c "$(declare -f as_server); RUN_AS='$RUN_AS'; as_server '$HIMARI_PG_BIN/pg_ctl' -D '$DATA' -l '$LOG' -w -t 60 start" >/dev/null 2>&1 </dev/null &&
    wait_for 30 healthy
}

stop() {
  if pid_alive; then
    say "stopping PostgreSQL cluster '$HIMARI_PG_NAME' (pid $(server_pid))"
    pg_ctl_ -m fast -w -t 60 stop >/dev/null 2>&1 || { say "fast shutdown failed; immediate"; pg_ctl_ -m immediate -w stop >/dev/null 2>&1 || true; }
  fi
}

start() {
  [ -s "$DATA/PG_VERSION" ] || create
  install_files
  if [ "$CHANGED" = 0 ] && healthy; then say "PostgreSQL cluster '$HIMARI_PG_NAME' already running on 127.0.0.1:$HIMARI_PG_PORT (pid $(server_pid))"; return 0; fi
  # Settings or certificates changed (the preload list needs a restart), or a stale or hung server.
  stop
  if port_open "$HIMARI_PG_PORT"; then
    die "port $HIMARI_PG_PORT is taken by a process that is not this cluster; stop it or set HIMARI_PG_PORT"
  fi
  say "starting PostgreSQL cluster '$HIMARI_PG_NAME' on 127.0.0.1:$HIMARI_PG_PORT (log: $LOG)"
  if launch; then say "PostgreSQL cluster ready"; return 0; fi
  # A cluster that cannot start on its data (killed during initdb, a password that no longer
  # matches) is made again: it holds only local test data.
  say "cluster did not become ready; recreating it (last log lines below)"
  tail -n 20 "$LOG" >&2 || true
  stop
  create
  install_files
  launch || { tail -n 40 "$LOG" >&2; die "PostgreSQL cluster failed to start (see $LOG)"; }
  say "PostgreSQL cluster ready"
}

client_env() {
  printf 'HIMARI_POSTGRES_URL=postgres://postgres:%s@127.0.0.1:%s/postgres\n' "$(password)" "$HIMARI_PG_PORT"
  printf 'HIMARI_POSTGRES_SSL_MODE=verify-full\nHIMARI_POSTGRES_SSL_CA_FILE=%s\n' "$(bash "$ROOT/scripts/tls.sh" ensure)/ca.pem"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) healthy ;;
  reset) stop; rm -rf "$DATA"; say "PostgreSQL cluster '$HIMARI_PG_NAME' data removed" ;;
  env) client_env ;;
  *) die "usage: scripts/pg-cluster.sh start|stop|status|reset|env" ;;
esac
