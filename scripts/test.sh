#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings treated
# as failures, runs every test, then builds the benchmarks and runs them small.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A one-node Slurm cluster for the executor: slurm tests (prints why and
# returns when not root; the tests then skip).
scripts/setup-slurm.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests 2>&1 | tee "$log"
if grep -E "^/.*(Sources|Tests|Benchmarks)/.*: warning:" "$log" >/dev/null; then
  echo "test: the build has warnings (see above)" >&2
  exit 1
fi
swift test

# The Gather library's DocC catalog: any warning (a broken link, an ambiguous
# symbol) fails the run. About 30 s on a fresh clone, mostly the plugin's build.
swift package generate-documentation --target Gather 2>&1 | tee "$log"
if grep -Ei "warning:|error:" "$log" >/dev/null; then
  echo "test: the Gather documentation has warnings (see above)" >&2
  exit 1
fi

# The unit file under a real systemd (skips itself without root or systemd-nspawn).
scripts/test-systemd-unit.sh

# docs/fleet.md under a real systemd: journals forwarded with
# systemd-journal-upload to systemd-journal-remote, plain HTTP and HTTPS
# (skips itself without root or systemd-nspawn).
scripts/test-fleet.sh

# make install and make deb: lintian, manual pages, and the package installed,
# used and purged in a real systemd (skips its container part without root).
scripts/test-package.sh

scripts/bench.sh --small

# Faults from outside (docs/RELIABILITY.md): kill -9, overflow, floods, a full
# disk, journald stopped and killed, mutated job files. Prints its time.
scripts/fault-suite.sh

# The README's quick start command, its output checked against the README.
scripts/check-quickstart.sh
