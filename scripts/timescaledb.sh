#!/usr/bin/env bash
# TimescaleDB for the hypertable path's tests, without Docker and without touching the machine's
# default cluster: built once from the vendored source (../shared/vendor/timescaledb-2.28.3.tar.gz,
# HIMARI_TIMESCALEDB_SOURCE), installed into the PostgreSQL server's library and extension
# directories (loaded only where shared_preload_libraries names it), and a cluster of the
# project's own (scripts/pg-cluster.sh: name `timescale`, port 5435, TLS only) that preloads it.
#
#   scripts/timescaledb.sh build    build and install once (skipped when that version is installed)
#   scripts/timescaledb.sh start    build if needed, then start the cluster (a healthy one is reused)
#   scripts/timescaledb.sh env      the processor's HIMARI_POSTGRES_* settings for the cluster
#   scripts/timescaledb.sh stop|status|reset   as scripts/pg-cluster.sh
#
# Building needs cmake, a C compiler and the server headers (Debian: postgresql-server-dev-15),
# installed here with apt-get when running as root; 2.28 is the last series that builds against
# PostgreSQL 15. About 3 minutes on 2 cores, once: the build tree is kept in $HIMARI_STATE_DIR.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=2.28.3
: "${HIMARI_TIMESCALEDB_SOURCE:=$ROOT/../shared/vendor/timescaledb-$VERSION.tar.gz}"
export HIMARI_PG_NAME="${HIMARI_PG_NAME:-timescale}"
export HIMARI_PG_PORT="${HIMARI_PG_PORT:-5435}"
export HIMARI_PG_PRELOAD=timescaledb
if [ -z "${HIMARI_PG_BIN:-}" ]; then
  HIMARI_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
export HIMARI_PG_BIN
PG_CONFIG="$HIMARI_PG_BIN/pg_config"
BUILD_HOME="$HIMARI_STATE_DIR/timescaledb"

installed() {
  [ -x "$PG_CONFIG" ] || return 1
  [ -f "$("$PG_CONFIG" --pkglibdir)/timescaledb-$VERSION.so" ] &&
    [ -f "$("$PG_CONFIG" --sharedir)/extension/timescaledb--$VERSION.sql" ]
}

# cmake, a compiler and the headers of the server pg_config belongs to.
build_tools() {
  local major; major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  command -v make >/dev/null 2>&1 || missing+=(make)
  [ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] || missing+=("postgresql-server-dev-$major")
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing what the TimescaleDB build needs: ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    die "building TimescaleDB needs ${missing[*]} (Debian: sudo apt-get install ${missing[*]})"
  fi
}

build() {
  [ -x "$PG_CONFIG" ] || die "pg_config not found at $PG_CONFIG (set HIMARI_PG_BIN)"
  if installed; then say "TimescaleDB $VERSION already installed for $("$PG_CONFIG" --version)"; return 0; fi
  [ -f "$HIMARI_TIMESCALEDB_SOURCE" ] || die "TimescaleDB source not found at $HIMARI_TIMESCALEDB_SOURCE (set HIMARI_TIMESCALEDB_SOURCE)"
  [ -w "$("$PG_CONFIG" --pkglibdir)" ] || die "installing TimescaleDB writes to $("$PG_CONFIG" --pkglibdir): run as root (or as its owner)"
  build_tools
  say "building TimescaleDB $VERSION against $("$PG_CONFIG" --version) in $BUILD_HOME (once, about 3 minutes)"
  rm -rf "$BUILD_HOME" && mkdir -p "$BUILD_HOME"
  tar xzf "$HIMARI_TIMESCALEDB_SOURCE" -C "$BUILD_HOME"
  local src="$BUILD_HOME/timescaledb-$VERSION"
  # No regression or TAP targets (they need the PostgreSQL source tree); a Release build.
  (cd "$src" && ./bootstrap -DPG_CONFIG="$PG_CONFIG" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DCMAKE_BUILD_TYPE=Release -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF >"$BUILD_HOME/configure.log" 2>&1) ||
    { tail -n 30 "$BUILD_HOME/configure.log" >&2; die "configuring TimescaleDB failed (see $BUILD_HOME/configure.log)"; }
  (cd "$src/build" && make -j"$(nproc)" >"$BUILD_HOME/make.log" 2>&1 && make install >>"$BUILD_HOME/make.log" 2>&1) ||
    { tail -n 30 "$BUILD_HOME/make.log" >&2; die "building TimescaleDB failed (see $BUILD_HOME/make.log)"; }
  installed || die "TimescaleDB built but $VERSION is not where $PG_CONFIG says extensions go"
  say "TimescaleDB $VERSION installed"
}

case "${1:-start}" in
  build) build ;;
  start) build; bash "$ROOT/scripts/pg-cluster.sh" start ;;
  env|stop|status|reset) bash "$ROOT/scripts/pg-cluster.sh" "$1" ;;
  *) die "usage: scripts/timescaledb.sh build|start|env|stop|status|reset" ;;
esac
