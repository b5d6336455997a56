#!/usr/bin/env bash
# npm test: installs what is missing, starts the local replica (Pebble rejecting half of the nonces,
# a real fault to survive), runs every test, stops the replica, and ends with the test counts.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/ensure-system.sh

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
replica_log=$(mktemp)
stop_replica() { node --import tsx scripts/replica.ts stop >>"$replica_log" 2>&1 || cat "$replica_log" >&2; }
trap stop_replica EXIT

node --import tsx scripts/replica.ts stop >/dev/null 2>&1 || true
if ! PEBBLE_WFE_NONCEREJECT=50 node --import tsx scripts/replica.ts start >"$replica_log" 2>&1; then
  cat "$replica_log" >&2
  exit 1
fi
NODE_EXTRA_CA_CERTS=$(node -e "console.log(require('./.replica/state.json').acme.apiCaFile)")
export NODE_EXTRA_CA_CERTS

set +e
node --import tsx --test --test-reporter=spec --test-timeout=600000 --test-concurrency=1 "$@" test/unit/*.test.ts test/integration/*.test.ts 2>&1 | tee .replica/test-output.log
status=${PIPESTATUS[0]}
set -e
stop_replica
trap - EXIT
exit "$status"
