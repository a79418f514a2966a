#!/usr/bin/env bash
# quickstart.sh — gatherd on a private spool, in one command: installs what is
# missing (Debian 12), builds gatherd, runs the examples/ jobs once with
# --exit-when-idle, then shows each job's record and what gatherd logged.
#
# The spool is ./.quickstart/spool, made afresh on every run. Some examples
# fail on purpose: their records and the journal show the compound error, one
# line naming every failed task. Exits 0 when gatherd ran every example to a
# record (whatever the job's state), 1 otherwise.
#
# Run as root on a machine without a journald (a container, CI), it starts one
# (scripts/test-journald.sh; `scripts/test-journald.sh stop` stops it again);
# otherwise, when no journal can be written and read back, gatherd logs to
# stderr and that is shown instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# The spool must not be writable by group or others: gatherd refuses it.
umask 022

# Headings in bold on a terminal only, so a saved log stays plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
heading() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

heading "Installing what is missing"
scripts/setup.sh
echo "ok"

heading "Building gatherd (release)"
# Progress lines ([12/140] Compiling…) left out; a failed build stops here.
swift build -c release --product gatherd 2>&1 | { grep -Ev '^\[[0-9]+/[0-9]+\]' || true; }
bin=$(swift build -c release --show-bin-path)/gatherd
[ -x "$bin" ] || { echo "quickstart: the build made no $bin" >&2; exit 1; }

heading "A spool with the examples"
top=$PWD/.quickstart
spool=$top/spool
rm -rf "$top"
mkdir -p -m 755 "$top" "$spool"
# incoming/ as gatherd makes it: only its own user may drop files.
mkdir -m 700 "$spool/incoming"
for file in examples/*.json; do
  install -m 644 "$file" "$spool/incoming/"
  echo "dropped $(basename "$file")"
done

# A journald answers when a datagram connect to its socket succeeds.
journald_answers() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try: s.connect("/run/systemd/journal/socket")
except OSError: sys.exit(1)'
}
if ! journald_answers && [ "$(id -u)" = 0 ]; then
  heading "Starting a journald (none was running)"
  scripts/test-journald.sh start
fi
# Only root and the systemd-journal/adm groups can read the system journal back.
target=stderr
if journald_answers && { [ "$(id -u)" = 0 ] || id -nG | grep -qwE 'systemd-journal|adm'; }; then
  target=journal
fi

heading "Running gatherd --spool .quickstart/spool --exit-when-idle --log-target $target"
since=$(date +%s)
"$bin" --spool "$spool" --exit-when-idle --log-target "$target" 2>"$top/gatherd.stderr" &
pid=$!
status=0
wait "$pid" || status=$?
echo "gatherd (pid $pid) exited with status $status"

heading "Records (.quickstart/spool/{done,failed,rejected}/ID/result.json)"
python3 - "$spool" <<'PY'
import json, os, sys
spool = sys.argv[1]
for area in ("done", "failed", "rejected"):
    for job in sorted(os.listdir(os.path.join(spool, area))):
        record = json.load(open(os.path.join(spool, area, job, "result.json")))
        print(f"{job}: {record['state']}")
        if record.get("error"):
            print(f"    error: {record['error']}")
        for task in record.get("tasks", []):
            why = task.get("reason") or task.get("stderr_tail", "").strip().replace("\n", " | ")
            print(f"    {task['name']:<14} {task['outcome']:<13} {why}".rstrip())
PY

if [ "$target" = journal ]; then
  heading "What gatherd logged (journalctl -o short _PID=$pid): its own entries as gatherd, task output as ID/TASK"
  [ "$(id -u)" = 0 ] && journalctl --sync
  journalctl -o short --no-pager --since "@$since" _PID="$pid"
  heading "Compound errors: one GATHER_FAILURE field per error (journalctl -o json)"
  journalctl -o json --no-pager --since "@$since" _PID="$pid" MESSAGE_ID=2567adab07a549029b2ad935f355fc66 \
    | python3 -c 'import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    failures = entry.get("GATHER_FAILURE", [])
    failures = [failures] if isinstance(failures, str) else failures
    # In the order MESSAGE names them: journald keeps repeated fields in the
    # order their data sits in its files, not the order they were sent.
    message = entry.get("MESSAGE", "")
    failures.sort(key=lambda failure: message.find(failure) if failure in message else len(message))
    job, count = entry["GATHER_JOB"], entry["GATHER_ERROR_COUNT"]
    print(f"{job} (GATHER_ERROR_COUNT={count}):")
    for failure in failures:
        print(f"    GATHER_FAILURE={failure}")'
  echo
  echo "See every entry of one job: journalctl GATHER_JOB=nightly-backup"
else
  heading "What gatherd logged (stderr: no journal to write to and read back here)"
  cat "$top/gatherd.stderr"
fi

# Success: gatherd stopped cleanly and every example ended with a record.
missing=$( (find "$spool/incoming" "$spool/active" -mindepth 1 -maxdepth 1 2>/dev/null || true) | wc -l)
records=$( (find "$spool/done" "$spool/failed" -name result.json 2>/dev/null || true) | wc -l)
examples=$(ls examples/*.json | wc -l)
if [ "$status" != 0 ] || [ "$missing" != 0 ] || [ "$records" != "$examples" ]; then
  [ "$target" = journal ] && cat "$top/gatherd.stderr" >&2
  echo "quickstart: FAILED: gatherd status $status, $records records for $examples examples, $missing left unfinished" >&2
  exit 1
fi
heading "Done: $records jobs ran; records are in .quickstart/spool"
