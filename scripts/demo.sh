#!/usr/bin/env bash
# npm run demo: the whole system on the local replica, start to finish (installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/ensure-system.sh
tools_path=$(bash scripts/python-tools.sh)
[[ -z $tools_path ]] || export PATH="$tools_path:$PATH"
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true TSX_DISABLE_CACHE=1
exec node --import tsx scripts/demo.ts
