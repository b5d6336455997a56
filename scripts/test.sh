#!/usr/bin/env bash
# npm test: installs what is missing, starts the local replica (Pebble rejecting half of the nonces,
# a real fault to survive), runs every test, stops the replica, and ends with the test counts.
# The replica's start is logged whole to .replica-logs/replica.log; its phase lines, with their
# elapsed times, are shown as they come.
# The tests' temporary files go to a directory of their own; the last test file checks that the
# suite left nothing there, no test host and no process.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/ensure-system.sh
tools_path=$(bash scripts/python-tools.sh)
[[ -z $tools_path ]] || export PATH="$tools_path:$PATH"

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true TSX_DISABLE_CACHE=1
mkdir -p .replica-logs
replica_log=.replica-logs/replica.log
: >"$replica_log"
tests_tmp=$(mktemp -d)
stop_replica() {
  node --import tsx scripts/replica.ts stop >>"$replica_log" 2>&1 || cat "$replica_log" >&2
  rm -rf "$tests_tmp"
}
trap stop_replica EXIT

node --import tsx scripts/replica.ts stop >/dev/null 2>&1 || true
set +e
PEBBLE_WFE_NONCEREJECT=50 node --import tsx scripts/replica.ts start 2>&1 | tee "$replica_log" | grep --line-buffered -E '^(replica|python-tools|set-up|ensure-system):'
start_status=${PIPESTATUS[0]}
set -e
if ((start_status != 0)); then
  echo "--- the replica did not start: $replica_log" >&2
  cat "$replica_log" >&2
  exit 1
fi
NODE_EXTRA_CA_CERTS=$(node -e "console.log(require('./.replica/state.json').acme.apiCaFile)")
export NODE_EXTRA_CA_CERTS

set +e
TMPDIR=$tests_tmp node --import tsx --test --test-reporter=spec --test-timeout=600000 --test-concurrency=1 "$@" \
  test/unit/*.test.ts test/integration/*.test.ts test/wrap-up/*.test.ts 2>&1 | tee .replica-logs/test-output.log
status=${PIPESTATUS[0]}
set -e
stop_replica
trap - EXIT
exit "$status"
