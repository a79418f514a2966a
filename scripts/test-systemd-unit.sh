#!/usr/bin/env bash
# test-systemd-unit.sh — systemd/gatherd.service under a real systemd (SPEC §9).
#
# 1. Lint: `systemd-analyze verify` must print nothing (it exits 0 on unknown
#    keys and bad values, so any output is a failure), for the unit and with
#    the example hardened drop-in; prints both `systemd-analyze security`
#    exposure scores (informational).
# 2. Builds gatherd (release, static Swift runtime: the container has the
#    host's /usr only) and boots a throw-away machine with systemd-nspawn: the
#    host's /usr read-only on a tmpfs root, no network. Installs gatherd, the
#    unit, the tmpfiles entry and the catalog inside, as a package would, then
#    runs scripts/systemd-unit/checks.sh there (start, cgroups, jobs, journal,
#    reload, stop). The machine is powered off and removed on exit, whatever happens.
#
# Needs root and systemd-nspawn for step 2 (scripts/setup.sh installs
# systemd-container); without them step 2 is skipped with the reason printed.
# Idempotent: a machine left by an interrupted run is stopped first, and a lock
# keeps two runs on one host apart.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
STATE=/run/gatherd-unit-test
NAME=gatherd-unit-test

say() { printf '== unit: %s\n' "$*"; }
fail() { printf 'unit: FAILED: %s\n' "$*" >&2; exit 1; }

# --- 1. lint -----------------------------------------------------------------
# verify --root needs the distribution's units (sysinit.target…) under the root
# and every command of the unit present and executable there.
lintroot=$(mktemp -d)
trap 'rm -rf "$lintroot"' EXIT
mkdir -p "$lintroot/etc/systemd/system" "$lintroot/usr/lib/systemd" "$lintroot/usr/local/bin" "$lintroot/usr/bin"
cp -r /usr/lib/systemd/system "$lintroot/usr/lib/systemd/"
ln -s usr/bin "$lintroot/bin"
cp /usr/bin/kill "$lintroot/usr/bin/kill"
printf '#!/bin/sh\n' > "$lintroot/usr/local/bin/gatherd"
chmod 755 "$lintroot/usr/local/bin/gatherd"
cp systemd/gatherd.service "$lintroot/etc/systemd/system/"
# --man=no: the unit's Documentation= pages are installed by make install, not here.
lint=$(systemd-analyze verify --man=no --root="$lintroot" gatherd.service 2>&1) || true
# Then with the example hardened drop-in (systemd/gatherd.service.d/).
cp -r systemd/gatherd.service.d "$lintroot/etc/systemd/system/"
lint_hardened=$(systemd-analyze verify --man=no --root="$lintroot" gatherd.service 2>&1) || true
rm -rf "$lintroot"
trap - EXIT
if [ -n "$lint" ]; then
  printf '%s\n' "$lint" | sed "s|$lintroot/etc/systemd/system/|systemd/|g" >&2
  fail "systemd-analyze verify complained about systemd/gatherd.service"
fi
if [ -n "$lint_hardened" ]; then
  printf '%s\n' "$lint_hardened" | sed "s|$lintroot/etc/systemd/system/|systemd/|g" >&2
  fail "systemd-analyze verify complained about systemd/gatherd.service.d/hardened.conf"
fi
say "systemd-analyze verify: no complaints (the unit, and with the hardened drop-in)"
# Offline, a unit file's drop-ins are read from beside it: the unit alone is
# scored from a folder of its own, then with the example hardened drop-in.
secroot=$(mktemp -d)
mkdir -p "$secroot/etc/systemd/system"
cp systemd/gatherd.service "$secroot/etc/systemd/system/"
systemd-analyze security --offline=true --root="$secroot" gatherd.service 2>/dev/null \
  | grep -i "overall exposure" | sed 's/^→ */== unit: security: /' || true
cp -r systemd/gatherd.service.d "$secroot/etc/systemd/system/"
systemd-analyze security --offline=true --root="$secroot" gatherd.service 2>/dev/null \
  | grep -i "overall exposure" | sed 's/^→ */== unit: security with gatherd.service.d\/hardened.conf: /' || true
rm -rf "$secroot"

# --- 2. in a container ---------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  say "SKIPPED the container test: needs root (booting systemd-nspawn)"; exit 0
fi
if ! command -v systemd-nspawn >/dev/null || ! command -v nsenter >/dev/null; then
  say "SKIPPED the container test: systemd-nspawn missing (scripts/setup.sh installs systemd-container)"; exit 0
fi

mkdir -p "$STATE"
exec 8>"$STATE.lock"
flock 8

. scripts/lib-machine.sh

stop_container() { machine_stop || true; }

cleanup() {
  local status=$?
  if [ $status != 0 ] && [ -f "$STATE/leader" ]; then
    echo "---- gatherd's journal in the machine (last 60 lines)" >&2
    inside journalctl -u gatherd --no-pager -n 60 >&2 2>/dev/null || true
    inside systemctl status gatherd --no-pager >&2 2>/dev/null || true
  fi
  stop_container
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A machine left by an interrupted run.
stop_container

say "building gatherd (release, static Swift runtime)"
# A scratch path of its own: switching --static-swift-stdlib on and off in one
# build folder relinks everything each time (the benchmarks build release too).
# `make build` is the build `make install` and the package take (the same
# flags, so the two never rebuild each other's objects).
scratch=.build-static
make --no-print-directory build SCRATCH="$scratch" >"$STATE/build.log" 2>&1 \
  || { cat "$STATE/build.log" >&2; fail "make build failed"; }
tail -1 "$STATE/build.log"
bin=$scratch/release/gatherd
[ -x "$bin" ] || fail "no gatherd binary at $bin"

# Everything the machine needs, bind-mounted read-only at /host inside; beside
# the build (a hard link, not a 70 MB copy), and made afresh by every run.
stage=$project/$scratch/unit-stage
rm -rf "$stage"
mkdir -m 755 "$stage"
ln "$bin" "$stage/gatherd"
cp systemd/gatherd.service systemd/gatherd.tmpfiles systemd/gatherd.catalog \
   scripts/systemd-unit/checks.sh "$stage/"

say "booting a systemd machine (host /usr read-only, tmpfs root)"
# /usr/local/bin is a tmpfs so gatherd can be installed where the unit wants it.
machine_boot -D / --volatile=yes --bind-ro="$stage":/host --tmpfs=/usr/local/bin
say "booted ($s)"

inside bash /host/checks.sh
say "passed"
