#!/bin/sh
# test-journald.sh start|stop|status — a real systemd-journald for gatherd's
# tests on machines whose PID 1 is not systemd (CI, containers). Needs root and
# the systemd package (scripts/setup.sh installs it).
#
#   start   starts /lib/systemd/systemd-journald unless a journald already
#           answers on /run/systemd/journal/socket; waits for its sockets.
#           Several test processes may call it at once: a lock serialises them.
#   stop    stops the journald this script started, never another one.
#   status  exit 0 when a journal socket answers.
#
# Entries are kept in /run/log/journal (volatile). Read them back with
#   journalctl --sync; journalctl -o json GATHER_JOB=ID --no-pager
# systemd-journald takes no options (its first argument names a journal
# namespace), so its settings go in a journald.conf.d drop-in. A socket file
# left without a journald makes sd_journal_sendv fail with ECONNREFUSED, so
# stop removes the sockets with the process.
set -eu
STATE=${GATHER_TEST_JOURNALD_STATE:-/run/gatherd-test-journald}
PIDFILE=$STATE/pid
JOURNALD=/lib/systemd/systemd-journald
SOCKET=/run/systemd/journal/socket

# A datagram connect succeeds only when a journald holds the socket.
alive() {
  [ -S "$SOCKET" ] || return 1
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try: s.connect(sys.argv[1])
except OSError: sys.exit(1)' "$SOCKET"
}

mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9

case "${1:-}" in
start)
  if alive; then echo "test-journald: already running"; exit 0; fi
  [ -x "$JOURNALD" ] || { echo "test-journald: $JOURNALD missing (apt-get install systemd)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "test-journald: needs root" >&2; exit 1; }
  mkdir -p /run/systemd/journald.conf.d
  # Stale sockets of a journald that is gone would make the start look done.
  rm -rf /run/systemd/journal
  # No rate limit: tests write bursts; nothing forwarded to syslog or wall.
  printf '[Journal]\nStorage=volatile\nForwardToSyslog=no\nForwardToWall=no\nRateLimitBurst=0\n' \
    > /run/systemd/journald.conf.d/90-gatherd-test.conf
  # journald must inherit no descriptor but 0-2: a caller's pipe or socket
  # held open by it would never see EOF. (Foundation's Process, which the
  # Swift tests use to run this script, waits for such a socket to close, so
  # an inherited end made the first test that started journald hang.)
  setsid python3 -c 'import os, sys
os.closerange(3, os.sysconf("SC_OPEN_MAX"))
os.execv(sys.argv[1], sys.argv[1:])' "$JOURNALD" </dev/null >>"$STATE/journald.log" 2>&1 &
  echo $! > "$PIDFILE"
  i=0
  until [ -S "$SOCKET" ] && [ -S /run/systemd/journal/stdout ]; do
    i=$((i+1)); [ $i -le 200 ] || { echo "test-journald: did not come up (see $STATE/journald.log)" >&2; exit 1; }
    sleep 0.05
  done
  echo "test-journald: started, pid $(cat "$PIDFILE")" ;;
stop)
  [ -f "$PIDFILE" ] || { echo "test-journald: not started by this script"; exit 0; }
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid" 2>/dev/null || true
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i+1)); [ $i -le 100 ] || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.05
  done
  rm -rf /run/systemd/journal /run/systemd/journald.conf.d/90-gatherd-test.conf "$PIDFILE"
  echo "test-journald: stopped" ;;
status)
  alive ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
