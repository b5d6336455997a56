# Sourced by the set-up scripts (bash): a line when a step starts, one every 10 s while it runs, and
# one when it ends, with its duration, so that the set-up of `npm run demo` and `npm test` is never
# silent for longer than 10 s (npm ci, apt-get and pip can each take minutes on a fresh machine).
# Lines go to stderr, so that a script's stdout stays its result.
#
#   . scripts/progress.sh
#   progress_step "installing the npm packages (npm ci)" npm ci --no-audit

# Seconds since $1 (an $EPOCHREALTIME), one decimal. EPOCHREALTIME uses the locale's decimal mark.
progress_seconds_since() {
  awk -v began="${1/,/.}" -v now="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", now - began }'
}

# Runs "${@:2}" as the step $1 names; returns its exit status.
progress_step() {
  local what=$1 began=$EPOCHREALTIME status=0 ticker
  shift
  echo "set-up: $what ..." >&2
  # One-second sleeps: once this loop is killed, its last sleep ends within a second.
  (
    seconds=0
    while sleep 1 </dev/null >/dev/null 2>&1; do
      seconds=$((seconds + 1))
      if ((seconds % 10 == 0)); then echo "set-up: still $what ($seconds s)" >&2; fi
    done
  ) &
  ticker=$!
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if ((status == 0)); then
    echo "set-up: $what: done ($(progress_seconds_since "$began") s)" >&2
  else
    echo "set-up: $what: failed with exit status $status ($(progress_seconds_since "$began") s)" >&2
  fi
  return "$status"
}
