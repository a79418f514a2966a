#!/usr/bin/env bash
# list-bench.sh [N] — `gatherctl list --state failed --since 1h` on a spool of N
# finished jobs (default 100,000): records written as gatherd writes them, five
# in a hundred in the last hour, the rest older; prints the time of a few runs.
# Uses the release gatherctl (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
count=${1:-100000}
quiet_build -c release --product gatherctl
spool=$(mktemp -d /tmp/gatherd-list-bench.XXXXXX)
trap 'rm -rf "$spool"' EXIT
python3 - "$spool" "$count" <<'PY'
import json, os, sys, time
spool, count = sys.argv[1], int(sys.argv[2])
for area in ("incoming", "active", "done", "failed", "rejected", "cancel"):
    os.makedirs(os.path.join(spool, area), mode=0o755)
now = time.time()
states = ["succeeded", "failed", "cancelled", "interrupted", "rejected"]
for i in range(count):
    state = states[i % len(states)]
    area = {"succeeded": "done", "rejected": "rejected"}.get(state, "failed")
    recent = i % 100 < 5  # each state alike
    finished = now - (60 * (i % 50) if recent else 86400 * 2 + i)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(finished))
    job = os.path.join(spool, area, f"job{i:06d}")
    os.mkdir(job)
    record = {"id": f"job{i:06d}", "run": "0" * 32, "name": f"job{i:06d}", "file": f"job{i:06d}.json",
              "state": state, "policy": "collect-all", "uid": 0, "user": "root", "run_as": "root",
              "received_at": stamp, "started_at": stamp, "finished_at": stamp,
              "error": None if state != "failed" else "CompoundError, 1 error [t: exited with status 1]",
              "tasks": [{"name": "t", "outcome": "failed" if state == "failed" else "succeeded", "exit_status": 1,
                         "signal": None, "attempts": 1, "started_at": stamp, "duration_ms": 5, "stderr_tail": ""}]}
    path = os.path.join(job, "result.json")
    with open(path, "w") as f:
        json.dump(record, f)
    os.utime(path, (finished, finished))
PY
echo "spool of $count finished jobs made"
for run in 1 2 3; do
  start=$(date +%s.%N)
  lines=$(.build/release/gatherctl --spool "$spool" list --state failed --since 1h | wc -l)
  end=$(date +%s.%N)
  echo "run $run: gatherctl list --state failed --since 1h: $((lines - 1)) jobs in $(echo "$end - $start" | bc) s"
done
start=$(date +%s.%N)
lines=$(.build/release/gatherctl --spool "$spool" list | wc -l)
end=$(date +%s.%N)
echo "gatherctl list (all $count, every record read): $((lines - 1)) jobs in $(echo "$end - $start" | bc) s"
