#!/usr/bin/env bash
# Install Zones for Linux on a Debian 12 host, as root: Debian packages, npm
# dependencies, the build, the commands on PATH; then configure a sample zone.
# Safe to run again. Honours ZONES_ROOT (state under that directory instead of /).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -ne 0 ]; then echo "install: run as root" >&2; exit 1; fi

# Node.js 20 or newer with its own npm comes from outside Debian (NodeSource's nodejs
# or a tarball): checked before anything is changed on the host.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install: Node.js 20 or newer with npm is needed on PATH (NodeSource's nodejs, or a tarball from nodejs.org)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install: Node.js 20 or newer is needed (found $(node --version)); install nodejs 20 from NodeSource" >&2
  exit 1
fi

bash scripts/install-packages.sh

# playwright-core (the web console's browser test) drives Debian's chromium: never a downloaded browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

# Commands on PATH: each runs the checkout's command as bin/ does (building first if
# needed). A script naming the checkout, not a link: resolving a link costs every
# command a readlink process.
case $top in *"'"*) echo "install: the checkout's path must not contain a quote: $top" >&2; exit 1 ;; esac
for c in bin/*; do
  n=$(basename "$c")
  rm -f "/usr/local/bin/$n"
  printf '#!/bin/sh\n# %s of Zones for Linux: runs %s/bin/%s\ntop='"'"'%s'"'"'\n. "$top/scripts/node-command.sh"\nrun_command %s "$@"\n' "$n" "$top" "$n" "$top" "$n" > "/usr/local/bin/$n"
  chmod 0755 "/usr/local/bin/$n"
done
# zonename, zipcs and zipcrm must also work inside sparse zones, which share the
# host's /usr but not this checkout: self-contained copies of the bundled commands
# (they need no native module), not links.
install -d /usr/local/lib/zones
for c in zonename zipcs zipcrm; do
  install -m 0644 "dist/bin/$c.cjs" "/usr/local/lib/zones/$c.cjs"
  rm -f "/usr/local/bin/$c"
  printf '#!/bin/sh\n# %s, installed by Zones for Linux: works in the global zone and in zones.\nunset NODE_EXTRA_CA_CERTS\nexec node /usr/local/lib/zones/%s.cjs "$@"\n' "$c" "$c" > "/usr/local/bin/$c"
  chmod 0755 "/usr/local/bin/$c"
done

# zchan (inter-zone channels, docs/channel-protocol.md) runs inside sparse zones too;
# it passes descriptors through koffi, a native module, installed beside it.
install -m 0644 dist/bin/zchan.cjs /usr/local/lib/zones/zchan.cjs
install -d /usr/local/lib/zones/node_modules
rm -rf /usr/local/lib/zones/node_modules/koffi /usr/local/lib/zones/node_modules/@koromix
cp -a node_modules/koffi node_modules/@koromix /usr/local/lib/zones/node_modules/
rm -f /usr/local/bin/zchan
printf '#!/bin/sh\n# zchan, installed by Zones for Linux: inter-zone channels, in the global zone and in zones.\nunset NODE_EXTRA_CA_CERTS\nexec node /usr/local/lib/zones/zchan.cjs "$@"\n' > /usr/local/bin/zchan
chmod 0755 /usr/local/bin/zchan

# The zones service: autoboot zones at host start, clean shutdown at host stop.
bash scripts/install-service.sh

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
