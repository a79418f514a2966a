#!/usr/bin/env bash
# checks.sh — runs inside the throw-away systemd machine that
# scripts/test-systemd-unit.sh boots (never on a real host: it installs gatherd
# system-wide). /host holds the gatherd binary and the systemd/ files.
#
# Proves, with systemd as PID 1: the tmpfiles entry makes the spool; the unit
# starts (Type=notify: `systemctl start` returns only after READY=1) and keeps
# STATUS= current; a dropped job ends with a record; `journalctl -u gatherd`
# holds the job's entries, the compound error with one GATHER_FAILURE per error,
# and the catalog explains it (`-x`); with Delegate=yes gatherd has cgroups
# (`cgroups: kill, …`), runs in supervisor/ and each job in job-ID/task-NAME
# (shown by `systemctl status`), a task's escapee (setsid) is stopped with its
# job and the job's cgroup goes with it; `systemctl reload` rescans the spool;
# a crash is restarted and recovered; the watchdog is fed; `systemctl stop`
# stops cleanly (inactive, result success), asking systemd for more time than
# TimeoutStopSec= when a job's grace needs it, and the running job is
# recorded interrupted, its tasks gone.
set -euo pipefail
SPOOL=/var/spool/gatherd
COMPOUND_ID=2567adab07a549029b2ad935f355fc66
INTERRUPTED_ID=d3be6196e2bd46a789785f97097cb3e5
READY_ID=08982e59b9f0491b9db5d3506543a0f5

say() { printf '== unit: %s\n' "$*"; }
fail() { printf 'unit: FAILED: %s\n' "$*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

# Drops a job file the way users should: a dotfile, then a rename.
drop() { printf '%s\n' "$2" > "$SPOOL/incoming/.$1.tmp"; mv "$SPOOL/incoming/.$1.tmp" "$SPOOL/incoming/$1.json"; }

# Waits (at most $3 s) for job $1's record in state directory $2 (* for any).
wait_record() {
  local i=0
  until ls $SPOOL/$2/$1/result.json >/dev/null 2>&1; do
    i=$((i+1)); [ $i -le $(( ${3:-30} * 10 )) ] || fail "no record of $1 in $2/ after ${3:-30} s ($(ls -R $SPOOL | tr '\n' ' '))"
    sleep 0.1
  done
}

# Prints a value of a JSON file by a dotted path (tasks.0.outcome).
field() {
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1" "$2"
}

# Reads the unit's journal back as JSON and runs a Python check on the entries
# (`entries`: a list of dicts); the check raises or exits non-zero to fail.
journal_check() {
  journalctl --sync
  journalctl -u gatherd -o json --no-pager "${@:2}" > /run/unit-journal.json
  python3 -c 'import json, sys
entries = [json.loads(line) for line in open("/run/unit-journal.json")]
def one(**match):
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{len(found)} entries match {match}"
    return found[0]
'"$1"
}

# The start lines of the unit's journal (`cgroups: kill, accounting` or
# `cgroups: off (WHY)`), one per start of gatherd.
cgroups_lines() {
  journalctl --sync
  journalctl -u gatherd -o cat --no-pager | grep '^cgroups: ' || true
}

# The cgroup tree of `systemctl status gatherd` (its CGroup: line and below;
# no journal lines). It leaves out empty cgroups, even with --all.
cgroup_tree() {
  systemctl status gatherd --no-pager --full --lines=0 | sed -n '/CGroup:/,$p'
}

say "installing gatherd, its unit, tmpfiles entry and catalog"
install -m 755 /host/gatherd /usr/local/bin/gatherd
install -D -m 644 /host/gatherd.service /etc/systemd/system/gatherd.service
install -D -m 644 /host/gatherd.tmpfiles /etc/tmpfiles.d/gatherd.conf
# The catalog belongs in /usr/lib/systemd/catalog, which is the host's and
# read-only here: bind a copy of that folder with gatherd's file added over it.
mkdir -p /run/catalog
cp /usr/lib/systemd/catalog/* /host/gatherd.catalog /run/catalog/
mount --bind /run/catalog /usr/lib/systemd/catalog
# journalctl warns about a malformed catalog but still exits 0.
complaints=$(journalctl --update-catalog 2>&1)
[ -z "$complaints" ] || fail "journalctl --update-catalog: $complaints"
for id in $(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' /host/gatherd.catalog); do
  journalctl --dump-catalog "$id" | grep -q "Defined-By: gatherd" || fail "the catalog entry $id was not taken"
done

systemd-tmpfiles --create /etc/tmpfiles.d/gatherd.conf
expect "spool made by tmpfiles" "$(stat -c '%F %a %U' $SPOOL)" "directory 755 root"

say "systemctl start gatherd"
systemctl daemon-reload
started=$(date +%s.%N)
timeout 60 systemctl start gatherd || fail "systemctl start gatherd failed"
say "active after $(python3 -c "import sys; print(round($(date +%s.%N) - $started, 2))") s (READY=1 received)"
expect "is-active" "$(systemctl is-active gatherd)" "active"
expect "incoming/ made by gatherd" "$(stat -c '%a' $SPOOL/incoming)" "700"
status=$(systemctl show -p StatusText --value gatherd)
say "STATUS=$status"
[ -n "$status" ] || fail "gatherd sent no STATUS="
journal_check 'one(MESSAGE_ID="'$READY_ID'", SYSLOG_IDENTIFIER="gatherd")'

say "Delegate=yes: gatherd has its cgroup subtree"
expect "Delegate" "$(systemctl show -p Delegate --value gatherd)" "yes"
line=$(cgroups_lines)
say "journal: $line"
case "$line" in
  "cgroups: kill, accounting"*) ;;
  *) fail "expected one start line 'cgroups: kill, accounting…', got '$line'" ;;
esac
unit_cgroup=$(systemctl show -p ControlGroup --value gatherd)
expect "gatherd's own cgroup" "$(sed -n 's/^0:://p' /proc/$(systemctl show -p MainPID --value gatherd)/cgroup)" \
  "$unit_cgroup/supervisor"

say "a succeeding and a failing job"
drop unit-ok '{"tasks": [{"name": "hello", "command": ["sh", "-c", "echo hello from the unit test"]}]}'
drop unit-compound '{"policy": "collect-all", "tasks": [
  {"name": "bad-exit", "command": ["sh", "-c", "echo about to fail >&2; exit 3"]},
  {"name": "no-such", "command": ["gatherd-unit-test-no-such-command"]},
  {"name": "fine", "command": ["true"]}]}'
wait_record unit-ok done
wait_record unit-compound failed
expect "unit-ok state" "$(field $SPOOL/done/unit-ok/result.json state)" "succeeded"
compound="CompoundError, 2 errors [bad-exit: exited with status 3; no-such: could not start: No such file or directory (gatherd-unit-test-no-such-command)]"
expect "unit-compound error" "$(field $SPOOL/failed/unit-compound/result.json error)" "$compound"
run=$(field $SPOOL/failed/unit-compound/result.json run)

journal_check '
line = one(GATHER_JOB="unit-ok", GATHER_TASK="hello", GATHER_STREAM="stdout")
assert line["MESSAGE"] == "hello from the unit test", line
assert line["_SYSTEMD_UNIT"] == "gatherd.service", line
error = one(GATHER_JOB="unit-compound", MESSAGE_ID="'$COMPOUND_ID'")
assert error["PRIORITY"] == "3", error
assert error["GATHER_RUN"] == "'$run'", error
assert error["GATHER_ERROR_COUNT"] == "2", error
assert error["MESSAGE"] == "job unit-compound failed: '"$compound"'", error["MESSAGE"]
# As a set: journald lists repeated fields in the order their data sits in its
# file (a value stored before comes first), not in the order sent.
assert sorted(error["GATHER_FAILURE"]) == ["bad-exit: exited with status 3",
    "no-such: could not start: No such file or directory (gatherd-unit-test-no-such-command)"], error["GATHER_FAILURE"]
print("== unit: journalctl -u gatherd: compound error with", len(error["GATHER_FAILURE"]), "GATHER_FAILURE fields")
'
journalctl -u gatherd -x --no-pager GATHER_JOB=unit-compound MESSAGE_ID=$COMPOUND_ID \
  | grep -q "Subject: gatherd job unit-compound failed" || fail "journalctl -x shows no catalog text"

say "task lines are the task's: ID/TASK[pid] under -u gatherd, never under -t gatherd"
drop unit-mimic '{"name": "payroll", "tasks": [{"name": "mimic",
  "command": ["sh", "-c", "echo pid=$$; echo \"<2>job payroll failed: CompoundError, 1 error [x]\"; exit 1"]}]}'
wait_record unit-mimic failed
journalctl --sync
mimic_pid=$(journalctl -u gatherd -o cat --no-pager GATHER_JOB=unit-mimic GATHER_TASK=mimic | sed -n 's/^pid=//p')
[ -n "$mimic_pid" ] || fail "no output line of unit-mimic/mimic in the journal"
# journalctl's short form shows the sender's PID (gatherd's); the task's own is SYSLOG_PID.
journalctl -u gatherd -o short --no-pager GATHER_JOB=unit-mimic \
  | grep -q "unit-mimic/mimic\[[0-9]*\]: job payroll failed" || fail "journalctl -u gatherd does not show unit-mimic/mimic[PID]"
journalctl -u gatherd -o cat --no-pager SYSLOG_PID=$mimic_pid | grep -q "^job payroll failed" \
  || fail "the line does not carry the task's SYSLOG_PID $mimic_pid"
if journalctl -t gatherd -o cat --no-pager | grep -q "^job payroll failed"; then
  fail "journalctl -t gatherd shows a task's line as gatherd's"
fi
journalctl -t gatherd -o cat --no-pager GATHER_JOB=unit-mimic \
  | grep -q "^job unit-mimic (payroll) failed: CompoundError, 1 error \[mimic: exited with status 1\]" \
  || fail "gatherd's compound error does not name unit-mimic (payroll)"
echo "== unit: a task line tagged unit-mimic/mimic[$mimic_pid], not gatherd"

say "tasks are not sandboxed: a root job may use realtime scheduling and change its personality"
# (dmesg would prove ProtectKernelLogs= is gone, but nspawn itself forbids syslog(2).)
drop unit-unboxed '{"tasks": [{"name": "realtime", "command": ["chrt", "--fifo", "1", "true"]},
  {"name": "personality", "command": ["setarch", "i686", "true"]}]}'
wait_record unit-unboxed "*" 15
expect "unit-unboxed error" "$(field $SPOOL/*/unit-unboxed/result.json error)" "None"

say "a job's cgroups in the unit's tree; an escapee (setsid, ignoring SIGTERM) is stopped with its job"
# The escapee leaves the task's process group and ignores SIGTERM: only the
# task cgroup's cgroup.kill, after kill_grace, stops it.
cat > /run/unit-escaper.sh <<'EOF'
setsid sh -c 'trap "" TERM; echo $$ > /run/unit-escapee.tmp; mv /run/unit-escapee.tmp /run/unit-escapee.pid; exec sleep 300' &
until [ -e /run/unit-escape-gate ]; do sleep 0.1; done
EOF
drop unit-escape '{"kill_grace": "2s", "tasks": [{"name": "escaper", "command": ["sh", "/run/unit-escaper.sh"]}]}'
i=0
until [ -s /run/unit-escapee.pid ]; do
  i=$((i+1)); [ $i -le 150 ] || fail "the escapee of unit-escape did not start"
  sleep 0.1
done
escapee=$(cat /run/unit-escapee.pid)
expect "escapee's session" "$(ps -o sid= -p "$escapee" | tr -d ' ')" "$escapee"
expect "escapee's cgroup" "$(sed -n 's/^0:://p' /proc/$escapee/cgroup)" "$unit_cgroup/job-unit-escape/task-escaper"
tree=$(cgroup_tree)
printf '%s\n' "$tree" | sed 's/^/== unit: status: /'
for name in supervisor job-unit-escape task-escaper; do
  printf '%s\n' "$tree" | grep -q -- "$name" || fail "systemctl status gatherd shows no $name"
done
gate=$(date +%s.%N)
touch /run/unit-escape-gate
i=0
while [ -e /proc/$escapee ]; do
  i=$((i+1)); [ $i -le 40 ] || fail "the escapee $escapee outlived its job by 4 s (kill_grace 2s + 2 s): $(cat /proc/$escapee/cgroup)"
  sleep 0.1
done
say "escapee $escapee gone $(python3 -c "print(round($(date +%s.%N) - $gate, 2))") s after the main exited (kill_grace 2s)"
wait_record unit-escape done 10
expect "unit-escape state" "$(field $SPOOL/done/unit-escape/result.json state)" "succeeded"
tree=$(cgroup_tree)
if printf '%s\n' "$tree" | grep -q -- "job-"; then
  printf '%s\n' "$tree" >&2; fail "systemctl status gatherd still shows a job cgroup after the job's end"
fi
# An empty cgroup left behind would not show there: look at the directories.
unit_dir=$(findmnt -n -t cgroup2 -o TARGET | head -1)$unit_cgroup
left=$(find "$unit_dir" -mindepth 1 -maxdepth 1 -type d -name 'job-*' -printf '%f ')
[ -z "$left" ] || fail "job cgroups left in $unit_dir: $left"
say "after the job: no job cgroup left"
printf '%s\n' "$tree" | sed 's/^/== unit: status: /'

say "systemctl reload gatherd rescans the spool"
# A file the watch never reports: written unnamed (O_TMPFILE) in the spool
# directory and linked into incoming/ once closed. Its IN_CREATE says "being
# written" and its close is reported for the spool directory, so only a rescan
# picks it up. (A file still open for writing would not do: a scan passes over
# it until its close, SPEC §3.)
python3 - "$SPOOL" <<'PY'
import ctypes, os, sys
spool = sys.argv[1]
fd = os.open(spool, os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b'{"tasks": [{"name": "t", "command": ["true"]}]}\n')
os.fchmod(fd, 0o644)
# linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, path, AT_SYMLINK_FOLLOW): os.link
# does not follow the magic link.
libc = ctypes.CDLL(None, use_errno=True)
target = os.path.join(spool, "incoming", "unit-rescan.json").encode()
if libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, target, 0x400) != 0:
    sys.exit(f"linkat: {os.strerror(ctypes.get_errno())}")
os.close(fd)
PY
sleep 1
[ -f "$SPOOL/incoming/unit-rescan.json" ] || fail "unit-rescan.json was picked up before the reload"
pid=$(systemctl show -p MainPID --value gatherd)
systemctl reload gatherd
wait_record unit-rescan done 15
expect "MainPID after reload" "$(systemctl show -p MainPID --value gatherd)" "$pid"
expect "is-active after reload" "$(systemctl is-active gatherd)" "active"

say "a crash: systemd restarts gatherd, which recovers the jobs it was running"
drop unit-crash '{"tasks": [{"name": "sleeper", "command": ["sleep", "302"]}]}'
# Runs again after the crash (restartable) and then succeeds at once.
drop unit-again '{"restartable": true, "tasks": [{"name": "once",
  "command": ["sh", "-c", "[ -e /run/unit-again-ran ] && exit 0; touch /run/unit-again-ran; sleep 303"]}]}'
i=0
until [ "$(pgrep -xc sleep || true)" = 2 ]; do
  i=$((i+1)); [ $i -le 150 ] || fail "the tasks of unit-crash and unit-again did not start"
  sleep 0.1
done
pid=$(systemctl show -p MainPID --value gatherd)
systemctl kill --kill-who=main --signal=SIGKILL gatherd
i=0
until [ "$(systemctl show -p NRestarts --value gatherd)" = 1 ] && [ "$(systemctl is-active gatherd)" = active ]; do
  i=$((i+1)); [ $i -le 200 ] || fail "gatherd was not restarted within 20 s of a crash"
  sleep 0.1
done
[ "$(systemctl show -p MainPID --value gatherd)" != "$pid" ] || fail "MainPID unchanged after the crash"
wait_record unit-crash failed 15
expect "unit-crash state" "$(field $SPOOL/failed/unit-crash/result.json state)" "interrupted"
wait_record unit-again done 15
expect "unit-again state" "$(field $SPOOL/done/unit-again/result.json state)" "succeeded"
line=$(cgroups_lines | tail -n 1)
expect "start lines after the restart" "$(cgroups_lines | grep -c .)" "2"
case "$line" in
  "cgroups: kill, accounting"*) ;;
  *) fail "after the restart: expected 'cgroups: kill, accounting…', got '$line'" ;;
esac
[ -z "$(pgrep -x sleep || true)" ] || fail "tasks of the crashed gatherd outlived it"

say "the supervisor feeds the watchdog (WatchdogSec=30s, a ping every 15 s)"
expect "WatchdogUSec" "$(systemctl show -p WatchdogUSec --value gatherd)" "30s"
since=$(systemctl show -p ExecMainStartTimestampMonotonic --value gatherd)
i=0
# systemd stamps the watchdog at start too; only a WATCHDOG=1 moves it 10 s on.
until [ "$(systemctl show -p WatchdogTimestampMonotonic --value gatherd)" -gt $((since + 10000000)) ]; do
  i=$((i+1)); [ $i -le 250 ] || fail "no WATCHDOG=1 within 25 s of the start"
  sleep 0.1
done
expect "is-active after the first ping" "$(systemctl is-active gatherd)" "active"

say "systemctl stop gatherd with a job running"
# stubborn ignores SIGTERM, so gatherd needs the job's grace and SIGKILL.
drop unit-long '{"kill_grace": "2s", "tasks": [
  {"name": "sleeper", "command": ["sleep", "300"]},
  {"name": "stubborn", "command": ["sh", "-c", "trap \"\" TERM; sleep 301"]}]}'
i=0
until [ "$(pgrep -xc sleep || true)" = 2 ]; do
  i=$((i+1)); [ $i -le 150 ] || fail "the tasks of unit-long did not start"
  sleep 0.1
done
# A stop timeout shorter than the job's grace: only gatherd's
# EXTEND_TIMEOUT_USEC (grace + 10 s) keeps systemd from killing it midway,
# which would leave the job without a record.
mkdir -p /run/systemd/system/gatherd.service.d
printf '[Service]\nTimeoutStopSec=1s\n' > /run/systemd/system/gatherd.service.d/short-stop.conf
systemctl daemon-reload
expect "TimeoutStopUSec" "$(systemctl show -p TimeoutStopUSec --value gatherd)" "1s"
started=$(date +%s.%N)
timeout 60 systemctl stop gatherd &
stopper=$!
# STATUS= while the grace runs (STOPPING=1 makes the unit "deactivating").
i=0
until [ "$(systemctl show -p ActiveState --value gatherd)" = deactivating ]; do
  i=$((i+1)); [ $i -le 100 ] || fail "gatherd did not become deactivating"
  sleep 0.02
done
expect "STATUS= while stopping" "$(systemctl show -p StatusText --value gatherd)" "stopping: 1 job interrupted"
wait $stopper || fail "systemctl stop gatherd failed"
took=$(python3 -c "print(round($(date +%s.%N) - $started, 2))")
say "stopped in $took s (kill_grace 2s, TimeoutStopSec=1s extended by gatherd)"
python3 -c "import sys; sys.exit(0 if 2.0 <= $took < 12 else 1)" || fail "stop took $took s, expected the 2 s grace and less than 12 s"
expect "is-active after stop" "$(systemctl is-active gatherd || true)" "inactive"
expect "Result after stop" "$(systemctl show -p Result --value gatherd)" "success"
expect "exit status after stop" "$(systemctl show -p ExecMainStatus --value gatherd)" "0"
[ -z "$(pgrep -x sleep || true)" ] || fail "tasks of unit-long outlived the service"
wait_record unit-long failed 1
expect "unit-long state" "$(field $SPOOL/failed/unit-long/result.json state)" "interrupted"
for task in 0 1; do
  expect "unit-long task $task" "$(field $SPOOL/failed/unit-long/result.json tasks.$task.outcome)" "cancelled"
  expect "unit-long task $task reason" "$(field $SPOOL/failed/unit-long/result.json tasks.$task.reason)" "daemon stopping"
done
expect "stubborn's signal" "$(field $SPOOL/failed/unit-long/result.json tasks.1.signal)" "SIGKILL"
journal_check 'one(GATHER_JOB="unit-long", MESSAGE_ID="'$INTERRUPTED_ID'")'
