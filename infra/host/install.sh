#!/usr/bin/env bash
# Installs the host sync agent on an nginx web host supervised by s6 (run as root):
#   sudo bash install.sh /path/to/sync-agent.js
# DESTDIR=/some/dir installs under that directory instead of / (for packaging and tests).
# It copies the agent, creates the directories, installs the cron line, and leaves
# /etc/acme-sync/agent.env for you to fill in (it never overwrites an existing one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
agent=${1:-$here/../../dist/sync-agent.js}

[[ -n ${DESTDIR:-} || $(id -u) -eq 0 ]] || { echo "install.sh: run as root (it writes /opt, /etc and /var/lib)" >&2; exit 1; }
[[ -f $agent ]] || { echo "install.sh: $agent not found: run 'npm run build' first, or pass the path of sync-agent.js" >&2; exit 1; }
command -v node >/dev/null || { echo "install.sh: node (>= 20) is required: apt-get install nodejs" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
(( major >= 20 )) || { echo "install.sh: node $major is too old; the agent needs node >= 20" >&2; exit 1; }

d=${DESTDIR:-}
install -d -m 0755 "$d/opt/acme-sync" "$d/var/lib/acme-sync" "$d/etc/nginx/certs" "$d/etc/cron.d"
install -d -m 0700 "$d/etc/acme-sync"
install -m 0644 "$agent" "$d/opt/acme-sync/sync-agent.js"
if [[ ! -f $d/etc/acme-sync/agent.env ]]; then
  install -m 0600 "$here/agent.env.example" "$d/etc/acme-sync/agent.env"
  echo "install.sh: edit /etc/acme-sync/agent.env (bucket, region, credentials)"
fi
install -m 0644 "$here/cron/acme-sync" "$d/etc/cron.d/acme-sync"
echo "install.sh: installed /opt/acme-sync/sync-agent.js and /etc/cron.d/acme-sync"
echo "install.sh: first run by hand: set -a; . /etc/acme-sync/agent.env; node /opt/acme-sync/sync-agent.js"
