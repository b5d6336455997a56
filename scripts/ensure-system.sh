#!/usr/bin/env bash
# Checks that the system binaries of the local replica and of the host tests are installed. As root,
# installs the Debian packages that are missing; otherwise prints the command to run and fails.
#   pebble, pebble-challtestsrv   Let's Encrypt's test CA and DNS        (pebble)
#   nginx                         the web host                          (nginx-light)
#   s6-*, execlineb               nginx's supervisor; s6-overlay's tools (s6, execline)
#   ip, nsenter, pgrep            the tests' Debian host in a network namespace (iproute2, util-linux, procps)
#   /etc/ssl/certs/ca-certificates.crt   what nginx verifies S3 with (ca-certificates)
#   acme-tiny                     the peer npm run bench compares issuance with (acme-tiny)
# moto_server and cfn-lint (Python) are scripts/python-tools.sh's.
set -euo pipefail
. "$(dirname "$0")/progress.sh"

declare -A package_of=(
  [pebble]=pebble [pebble-challtestsrv]=pebble [nginx]=nginx-light [s6-supervise]=s6 [s6-svc]=s6 [s6-svscan]=s6
  [execlineb]=execline [ip]=iproute2 [nsenter]=util-linux [pgrep]=procps [acme-tiny]=acme-tiny
)
missing=()
for binary in "${!package_of[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$binary" >/dev/null 2>&1 || missing+=("${package_of[$binary]}")
done
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)

if ((${#missing[@]} > 0)); then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "ensure-system: missing Debian packages: $packages" >&2
  if [[ $(id -u) -eq 0 ]]; then
    read -ra unique <<<"$packages"
    progress_step "installing ${unique[*]} (apt-get)" \
      bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"' apt-get "${unique[@]}"
  else
    echo "ensure-system: run: sudo apt-get update && sudo apt-get install -y $packages" >&2
    exit 1
  fi
fi

