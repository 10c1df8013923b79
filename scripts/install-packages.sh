#!/usr/bin/env bash
# The Debian-package step of scripts/install.sh, as root: installs whichever of the
# packages the commands use are missing, and nothing else. A script of its own so that
# test/commands/install.test.ts rehearses exactly this code against a faked dpkg status.
#
# The packages: the OCI runtimes (runc on hybrid cgroups, crun on pure cgroup v2), a
# static busybox (zone init; the minimal brand), util-linux (unshare, setpriv), perl
# and python3 (test probes: the zones' attacks use them), iproute2 and nftables (zone networking: bridges, veths, addresses;
# the host-side anti-spoofing filters), lxcfs (what a zone sees of its memory cap, CPUs
# and uptime in /proc: src/daemon/lxcfs.ts), zstd (zstd layers of OCI images), umoci
# (the tests build OCI images with it), mmdebstrap (the debian brand's base image:
# src/platform/images.ts), chromium (the web console's test drives it through
# playwright-core: test/web/) and openssh-client (the tests log in to a debian zone's
# sshd with a password: test/support/ssh.ts). Only missing ones are installed, so a re-run
# needs no network.
# Node.js 20 with its own npm comes from outside Debian (NodeSource or a tarball):
# never ask apt for Debian's npm or nodejs, which conflict with such a nodejs.
set -euo pipefail
packages=(ca-certificates runc crun busybox-static util-linux perl python3 iproute2 nftables curl lxcfs zstd umoci mmdebstrap chromium openssh-client)
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
