#!/usr/bin/env bash
# compare-bench.sh [--small] [--only 1,2,…] [--report FILE]
#
# gatherd against what users would pick instead (issue 10): a release build of
# gatherd, run as a user runs it, against a plain C posix_spawn loop (the
# floor), xargs -P8, GNU parallel -j8 and Python asyncio, in six scenarios
# (Benchmarks/compare/driver.py describes them). Contenders alternate within
# every repeat; tables give medians, spread and the ratio to the floor, and
# every target of the issue beside its figure.
#
#   --small   for CI: tiny sizes, few repeats, a few minutes with the builds;
#             contenders that are missing are skipped with the reason.
#   (default) full: writes docs/BENCHMARKS.md (or --report FILE).
#   --only    run some scenarios only, e.g. --only 3,4 (no report written).
#
# As root it runs gatherd against a private systemd-journald in a mount
# namespace of its own (unshare -m): the machine's journal is not touched.
# Otherwise gatherd logs to the machine's journald if one answers, else to
# stderr (--log-target stderr); the output says which.
#
# Everything it starts lives in a temporary folder; on exit it stops what is
# still running from there and removes the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SOURCES=$ROOT/Benchmarks/compare

# -------------------------------------------------------------- inside the namespace
# `compare-bench.sh --in-namespace WORK DRIVER-ARGS…`: started through unshare -m
# below; mounts its own /run/systemd and /run/log, starts journald there, runs
# the driver, stops journald.
if [ "${1:-}" = "--in-namespace" ]; then
  WORK=$2; shift 2
  mount -t tmpfs -o mode=0755 compare-bench /run/systemd
  mount -t tmpfs -o mode=0755 compare-bench /run/log
  mkdir -p /run/systemd/journald.conf.d /run/log/journal
  # No rate limit (bursts of job events are the point), nothing forwarded, no kernel messages.
  printf '[Journal]\nStorage=volatile\nForwardToSyslog=no\nForwardToWall=no\nForwardToKMsg=no\nForwardToConsole=no\nReadKMsg=no\nRateLimitBurst=0\n' \
    > /run/systemd/journald.conf.d/90-compare-bench.conf
  setsid /lib/systemd/systemd-journald </dev/null >>"$WORK/journald.log" 2>&1 &
  journald=$!
  trap 'kill -TERM $journald 2>/dev/null; wait $journald 2>/dev/null || true' EXIT
  for _ in $(seq 200); do
    [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && break
    sleep 0.05
  done
  [ -S /run/systemd/journal/socket ] || { echo "compare-bench: private journald did not start" >&2; exit 1; }
  python3 "$SOURCES/driver.py" "$@"
  journalctl --sync 2>/dev/null || true
  entries=$(journalctl -D /run/log/journal -q -o cat SYSLOG_IDENTIFIER=gatherd 2>/dev/null | wc -l)
  echo "private journal: $entries entries from gatherd"
  exit 0
fi

# -------------------------------------------------------------- arguments
mode=full; only=""; report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --small) mode=small ;;
    --only) only=$2; shift ;;
    --report) report=$2; shift ;;
    *) echo "usage: $0 [--small] [--only 1,2,…] [--report FILE]" >&2; exit 2 ;;
  esac
  shift
done
[ "$mode" = full ] && [ -z "$only" ] && [ -z "$report" ] && report=$ROOT/docs/BENCHMARKS.md
is_root=false; [ "$(id -u)" = 0 ] && is_root=true

. "$ROOT/scripts/lib.sh"  # quiet_build

# -------------------------------------------------------------- tools
# apt-get install, as root only; prints why not on failure.
apt_install() {
  $is_root || { echo "not root, cannot apt-get install $1"; return 1; }
  command -v apt-get >/dev/null || { echo "no apt-get"; return 1; }
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 \
      || { echo "apt-get install $1 failed"; return 1; }
  fi
}
if ! command -v parallel >/dev/null; then
  if [ "$mode" = small ]; then
    export COMPARE_PARALLEL_REASON="not installed (--small installs nothing for it)"
  elif ! reason=$(apt_install parallel); then
    export COMPARE_PARALLEL_REASON="not installed: $reason"
  fi
fi
if ! command -v strace >/dev/null && ! reason=$(apt_install strace); then
  export COMPARE_STRACE_REASON="not installed: $reason"
fi
for tool in cc python3 xargs prlimit; do
  command -v $tool >/dev/null || { echo "compare-bench: $tool is needed" >&2; exit 1; }
done

# -------------------------------------------------------------- builds
echo "== building gatherd (release)"
quiet_build -c release --product gatherd
GATHERD=$ROOT/.build/release/gatherd
echo "== building gatherd (release, --static-swift-stdlib, scratch path .build-static)"
GATHERD_STATIC=$ROOT/.build-static/release/gatherd
if ! quiet_build -c release --product gatherd --scratch-path .build-static --static-swift-stdlib; then
  GATHERD_STATIC=""
  export COMPARE_STATIC_REASON="swift build --static-swift-stdlib failed"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-bench.XXXXXX")
BIN=$WORK/bin
mkdir -p "$BIN"
# Stops whatever still runs from our helpers or our gatherd copies, then removes the folder.
cleanup() {
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case "$exe" in "$BIN"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;; esac
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== compiling the C helpers"
for helper in spawnloop inotifyspawn dropall; do
  cc -O2 -Wall -Wextra -o "$BIN/$helper" "$SOURCES/$helper.c"
done
cc -O2 -Wall -Wextra -static -o "$BIN/probe" "$SOURCES/probe.c"

# -------------------------------------------------------------- run
args=(--mode "$mode" --work "$WORK" --bin "$BIN" --gatherd "$GATHERD" --gatherd-static "$GATHERD_STATIC")
[ -n "$only" ] && args+=(--only "$only")
[ -n "$report" ] && args+=(--report "$report")

journal_alive() { # a datagram connect succeeds only when a journald holds the socket
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try: s.connect("/run/systemd/journal/socket")
except OSError: sys.exit(1)'
}

echo "== compare-bench ($mode)"
if $is_root && [ -x /lib/systemd/systemd-journald ] && unshare -m --propagation private true 2>/dev/null; then
  unshare -m --propagation private "$ROOT/scripts/compare-bench.sh" --in-namespace "$WORK" "${args[@]}" \
    --journal "a private systemd-journald (own mount namespace, volatile, no rate limit); gatherd's default --log-target auto"
elif journal_alive; then
  python3 "$SOURCES/driver.py" "${args[@]}" --journal "the machine's journald (--log-target auto)"
else
  echo "compare-bench: no journald answers and none can be started here: gatherd logs to stderr"
  python3 "$SOURCES/driver.py" "${args[@]}" --log-target stderr \
    --journal "none: no journald answers on /run/systemd/journal/socket, so --log-target stderr (no journal costs)"
fi
