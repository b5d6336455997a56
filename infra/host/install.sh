#!/bin/sh
# Installs the host sync agent on an nginx web host (run as root, from the directory `npm run build`
# makes as dist/host/, copied to the host):
#   sh install.sh          the agent, its templates, the acme-sync command, the cron line, agent.env
#   sh install.sh --s6     also nginx under s6: /service/nginx and the s6-svscan systemd unit
# DESTDIR=/some/dir installs under that directory instead of / (packaging).
# It never overwrites /etc/acme-sync/agent.env, and it enables nothing: it prints what to run next.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
with_s6=no
agent=
for argument in "$@"; do
  case $argument in
    --s6) with_s6=yes ;;
    --help | -h) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install.sh: unknown option $argument (known: --s6)" >&2; exit 2 ;;
    *) agent=$argument ;;
  esac
done
if [ -z "$agent" ]; then
  agent=$here/sync-agent.js
  [ -f "$agent" ] || agent=$here/../../dist/sync-agent.js
fi

d=${DESTDIR:-}
[ -n "$d" ] || [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (it writes /opt, /etc, /usr/local and /var/lib)" >&2; exit 1; }
[ -f "$agent" ] || { echo "install.sh: $agent not found: run 'npm run build' first, or pass the path of sync-agent.js" >&2; exit 1; }

# cron and supervisors run with a short PATH, so the acme-sync command names node by its absolute path.
node=$(command -v node || true)
[ -n "$node" ] || { echo "install.sh: node (>= 20; 22 or 24 recommended) is not on PATH: see the README's host section" >&2; exit 1; }
case $node in
  /*) ;;
  *) echo "install.sh: node resolves to '$node', not an absolute path" >&2; exit 1 ;;
esac
case $node in
  *[!A-Za-z0-9._/+-]*) echo "install.sh: node's path '$node' has characters this script does not write into a shell script" >&2; exit 1 ;;
esac
major=$("$node" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "install.sh: $node is node $major; the agent needs node >= 20 (22 or 24 recommended)" >&2; exit 1; }

install -d -m 0755 "$d/opt/acme-sync" "$d/opt/acme-sync/templates" "$d/usr/local/sbin" "$d/var/lib/acme-sync" "$d/etc/nginx/certs" "$d/etc/cron.d"
install -d -m 0700 "$d/etc/acme-sync"
install -m 0644 "$agent" "$d/opt/acme-sync/sync-agent.js"
# The source map, when built: stack frames then name the TypeScript sources.
[ ! -f "$agent.map" ] || install -m 0644 "$agent.map" "$d/opt/acme-sync/sync-agent.js.map"
install -m 0644 "$here"/nginx/*.template "$d/opt/acme-sync/templates/"
sed "s|@NODE@|$node|" "$here/bin/acme-sync" > "$d/usr/local/sbin/acme-sync.new"
chmod 0755 "$d/usr/local/sbin/acme-sync.new"
mv "$d/usr/local/sbin/acme-sync.new" "$d/usr/local/sbin/acme-sync"
install -m 0644 "$here/cron/acme-sync" "$d/etc/cron.d/acme-sync"
if [ ! -f "$d/etc/acme-sync/agent.env" ]; then
  install -m 0600 "$here/agent.env.example" "$d/etc/acme-sync/agent.env"
  echo "install.sh: edit /etc/acme-sync/agent.env (bucket, region, credentials)"
fi
echo "install.sh: installed /opt/acme-sync/sync-agent.js (node $major at $node), /usr/local/sbin/acme-sync and /etc/cron.d/acme-sync"

if [ "$with_s6" = yes ]; then
  install -d -m 0755 "$d/service" "$d/service/nginx" "$d/service/nginx/data" "$d/etc/systemd/system"
  install -m 0755 "$here/s6/nginx/run" "$d/service/nginx/run"
  install -m 0644 "$here/s6/nginx/notification-fd" "$d/service/nginx/notification-fd"
  install -m 0755 "$here/s6/nginx/data/check" "$d/service/nginx/data/check"
  install -m 0644 "$here/systemd/s6-svscan.service" "$d/etc/systemd/system/s6-svscan.service"
  echo "install.sh: installed /service/nginx and /etc/systemd/system/s6-svscan.service; to run nginx under s6:"
  echo "  systemctl disable --now nginx.service && systemctl mask nginx.service && systemctl daemon-reload && systemctl enable --now s6-svscan.service"
fi
echo "install.sh: first run by hand: acme-sync"
