#!/usr/bin/env bash
# test-fleet.sh — docs/fleet.md's set-up under a real systemd: boots a
# throw-away machine with systemd-nspawn (the host's /usr read-only on a tmpfs
# root, no network), and runs scripts/fleet/checks.sh there: Debian's
# systemd-journal-remote and systemd-journal-upload units configured as the
# document says, a gatherd compound error forwarded over plain HTTP and over
# HTTPS, read back on the collecting side with journalctl -D, explained by
# gatherd's catalog (-x), and the firewall of the document (where nft is
# installed). The machine is powered off and removed on exit.
#
# Needs root, systemd-nspawn, systemd-journal-remote and openssl
# (scripts/setup.sh installs them, and nftables for the firewall part);
# without one, it says so and skips. Idempotent: a machine left
# by an interrupted run is stopped first, and a lock keeps two runs apart.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=/run/gatherd-fleet-test
NAME=gatherd-fleet-test

say() { printf '== fleet: %s\n' "$*"; }
fail() { printf 'fleet: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  say "SKIPPED: needs root (booting systemd-nspawn)"; exit 0
fi
if ! command -v systemd-nspawn >/dev/null || ! command -v nsenter >/dev/null; then
  say "SKIPPED: systemd-nspawn missing (scripts/setup.sh installs systemd-container)"; exit 0
fi
if [ ! -x /lib/systemd/systemd-journal-remote ] || [ ! -x /lib/systemd/systemd-journal-upload ]; then
  say "SKIPPED: systemd-journal-remote missing (scripts/setup.sh installs it)"; exit 0
fi
if ! command -v openssl >/dev/null || [ ! -f /etc/ssl/openssl.cnf ]; then
  say "SKIPPED: openssl missing (scripts/setup.sh installs it)"; exit 0
fi

mkdir -p "$STATE"
exec 8>"$STATE.lock"
flock 8

. scripts/lib-machine.sh

cleanup() {
  local status=$?
  if [ $status != 0 ] && [ -f "$STATE/leader" ]; then
    echo "---- the machine's journal (last 40 lines)" >&2
    inside journalctl --no-pager -n 40 >&2 2>/dev/null || true
  fi
  machine_stop || true
  rm -rf "$STATE/stage"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A machine left by an interrupted run.
machine_stop || true

stage=$STATE/stage
rm -rf "$stage"
mkdir -m 755 "$stage"
cp systemd/gatherd.catalog scripts/fleet/checks.sh "$stage/"
# The machine's /etc starts empty; openssl needs its configuration file.
cp /etc/ssl/openssl.cnf "$stage/"

started=$(date +%s%N)
say "booting a systemd machine (host /usr read-only, tmpfs root)"
# /usr/local/lib is a tmpfs so the catalog can be installed where make install puts it.
machine_boot -D / --volatile=yes --bind-ro="$stage":/host --tmpfs=/usr/local/lib
say "booted ($s)"

inside bash ${FLEET_TRACE:+-x} /host/checks.sh
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
say "passed in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000))) s"
