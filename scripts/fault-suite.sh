#!/usr/bin/env bash
# fault-suite.sh — gatherd's fault suite (docs/RELIABILITY.md): the release
# binaries attacked from outside by Faults/driver.py — kill -9 at random
# moments, an inotify overflow under a 10,000-file burst, output floods, SIGHUP
# storms over half-written files, a full disk, journald stopped and killed, and
# mutated job files. Each case is bounded and cleans up; the seed is printed.
#
#   scripts/fault-suite.sh [--seed N] [--only kill9,burst,...] [--report FILE]
#
# Run by scripts/test.sh (the README's test command). Needs root for most
# cases; those that cannot run say why and are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

. "$root/scripts/lib.sh"  # quiet_build

began=$(date +%s)
echo "== fault suite: building gatherd, gatherctl and gather-fuzz (release)"
for product in gatherd gatherctl gather-fuzz; do
  quiet_build -c release --product "$product"
done
# The journald case stops and kills a journald this project started, never the system's.
if [ "$(id -u)" = 0 ]; then scripts/test-journald.sh start >/dev/null || true; fi

work=$(mktemp -d /tmp/gatherd-faults.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
python3 Faults/driver.py --gatherd "$root/.build/release/gatherd" --gatherctl "$root/.build/release/gatherctl" \
  --fuzz "$root/.build/release/gather-fuzz" --work "$work" --root "$root" "$@" || status=$?
# The journald case leaves one running (restarted) for what follows.
if [ "$(id -u)" = 0 ]; then scripts/test-journald.sh start >/dev/null || true; fi
echo "fault suite took $(( $(date +%s) - began )) s with the builds"
exit $status
