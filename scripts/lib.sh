# Shared by the scripts: where state lives and how to say what is missing.
# State (broker jars, broker data, logs) lives outside git, in HIMARI_STATE_DIR.
: "${HIMARI_STATE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/himari-l0}"
: "${HIMARI_KAFKA_PORT:=9092}"
: "${HIMARI_KAFKA_CONTROLLER_PORT:=9093}"
export HIMARI_STATE_DIR HIMARI_KAFKA_PORT HIMARI_KAFKA_CONTROLLER_PORT
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '[himari-l0] %s\n' "$*" >&2; }
die() { printf '[himari-l0] error: %s\n' "$*" >&2; exit 1; }

# Waits up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The fault suite's compiled scenario files: dist/test/faults/*.fault.js, outside the `*.test.js`
# glob of the unit and integration runs. (node --test runs the files it is given sorted by path.)
fault_files() {
  find "$ROOT/dist/test/faults" -maxdepth 1 -name '*.fault.js' | sort
}

# Sums the "# pass N" / "# fail N" lines of node --test TAP reports: "<passed> <failed>".
# A run that died before its summary counts 0 here; its exit status still fails the caller.
tap_counts() {
  cat "$@" 2>/dev/null | awk '/^# pass /{p+=$3} /^# fail /{f+=$3} END{print p+0, f+0}'
}
