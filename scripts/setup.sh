#!/usr/bin/env bash
# Installs the system packages gatherd builds and tests with, when missing.
# Debian 12; needs root (or sudo) only when something is missing.
#   scripts/setup.sh [PACKAGE...]  also installs PACKAGE... when missing (what
#   one test alone needs, e.g. lintian for scripts/test-package.sh).
set -euo pipefail
need=()
# procps: pgrep in the tests, /bin/kill for the unit's ExecReload.
# python3-prometheus-client: the metrics tests parse --metrics-file with it (pip into the system Python is refused).
# make: the top-level Makefile (make build, install, deb).
# man-db: the manual-page tests run `man --warnings` on docs/*.[158].
# systemd-journal-remote: the fleet tests forward a job's entries with
# systemd-journal-upload to a systemd-journal-remote (docs/fleet.md); openssl:
# scripts/test-fleet.sh makes a CA and certificates for the HTTPS part;
# nftables: it loads docs/fleet.md's firewall table inside its machine.
for pkg in libsystemd-dev pkg-config make systemd systemd-container procps python3 python3-prometheus-client man-db systemd-journal-remote openssl nftables "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
