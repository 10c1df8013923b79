#!/usr/bin/env bash
# Install Zones for Linux on a Debian 12 host, as root: Debian packages, npm
# dependencies, the build, the commands on PATH; then configure a sample zone.
# Safe to run again. Honours ZONES_ROOT (state under that directory instead of /).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -ne 0 ]; then echo "install: run as root" >&2; exit 1; fi

# Debian packages the commands use: the OCI runtimes (runc on hybrid cgroups, crun
# on pure cgroup v2), a static busybox (zone init; the minimal brand), util-linux
# (unshare, setpriv), perl (a test probe). Only missing ones are installed, so a re-run
# needs no network.
packages=(nodejs ca-certificates runc crun busybox-static util-linux perl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install: Node.js 20 or newer is needed (found $(node --version)); install nodejs 20 from NodeSource" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

# Commands on PATH: links to the checkout's bin/, which runs the build.
for c in bin/*; do ln -sfn "$top/$c" "/usr/local/bin/$(basename "$c")"; done
# zonename must also work inside sparse zones, which share the host's /usr but not
# this checkout: a self-contained copy of the bundled command, not a link.
install -d /usr/local/lib/zones
install -m 0644 dist/bin/zonename.cjs /usr/local/lib/zones/zonename.cjs
rm -f /usr/local/bin/zonename
printf '#!/bin/sh\n# zonename(1), installed by Zones for Linux: works in the global zone and in zones.\nunset NODE_EXTRA_CA_CERTS\nexec node /usr/local/lib/zones/zonename.cjs "$@"\n' > /usr/local/bin/zonename
chmod 0755 /usr/local/bin/zonename

# A sample zone, configured with the default template, installed and running.
if ! zoneadm -z sample list >/dev/null 2>&1; then
  zonecfg -z sample "create; set autoboot=false"
fi
state=$(zoneadm -z sample list -p | cut -d: -f3)
case "$state" in
  configured) zoneadm -z sample install && zoneadm -z sample boot ;;
  incomplete) zoneadm -z sample uninstall -F && zoneadm -z sample install && zoneadm -z sample boot ;;
  installed) zoneadm -z sample boot ;;
esac
zoneadm list -cv
echo
echo "The zone 'sample' is running. Log into it as its root with:"
echo "    zlogin sample"
