#!/usr/bin/env bash
# Installs the Debian packages of scripts/packages.txt that are missing.
# Quiet when everything is there; as root it runs apt-get, otherwise it
# prints the apt-get line to run and fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages.txt" | grep -v '^$')
missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "vtag: missing Debian packages: ${missing[*]}" >&2
  echo "vtag: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "vtag: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q "${missing[@]}" >&2
