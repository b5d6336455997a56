#!/usr/bin/env bash
# Checks that the system binaries of the local replica are installed. As root, installs the Debian
# packages that are missing; otherwise prints the command to run and fails.
set -euo pipefail

missing_debian=()
for binary in pebble pebble-challtestsrv nginx s6-supervise s6-svc; do
  command -v "$binary" >/dev/null 2>&1 || missing_debian+=("$binary")
done

if ((${#missing_debian[@]} > 0)); then
  echo "ensure-system: missing ${missing_debian[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y pebble nginx-light s6
  else
    echo "ensure-system: run: sudo apt-get update && sudo apt-get install -y pebble nginx-light s6" >&2
    exit 1
  fi
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "ensure-system: missing moto_server; run: pip install 'moto[server]'" >&2
  exit 1
fi
