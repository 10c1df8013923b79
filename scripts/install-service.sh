#!/usr/bin/env bash
# Install the zones service (systemd/zones.service: svc-zones start at host start,
# svc-zones stop at host stop) and enable it where systemd is PID 1. Says what it did;
# never fails for want of systemd. Run by scripts/install.sh.
# UNIT_DIR (default /etc/systemd/system) is where the unit goes, for tests.
set -euo pipefail
cd "$(dirname "$0")/.."
unit_dir=${UNIT_DIR:-/etc/systemd/system}

# The unit boots the zones of the real root: a private ZONES_ROOT gets no service.
if [ -n "${ZONES_ROOT:-}" ] && [ "${ZONES_ROOT}" != / ]; then
  echo "install: ZONES_ROOT is set ($ZONES_ROOT): the zones service, which serves the real root, is not installed; run 'svc-zones start' and 'svc-zones stop' yourself"
  exit 0
fi
install -d "$unit_dir"
install -m 0644 systemd/zones.service "$unit_dir/zones.service"
if [ -d /run/systemd/system ] && [ "$unit_dir" = /etc/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable zones.service
  echo "install: zones service installed and enabled: autoboot zones boot at host start (systemctl start zones to boot them now)"
elif [ "$unit_dir" != /etc/systemd/system ]; then
  echo "install: zones service installed as $unit_dir/zones.service, not enabled (not the system's unit directory)"
else
  echo "install: zones service installed as $unit_dir/zones.service but not enabled: systemd is not PID 1 here; run 'svc-zones start' at host start and 'svc-zones stop' at host stop"
fi
