#!/usr/bin/env bash
# slurm-bench.sh [--small] — the per-task overhead of `executor: slurm` over
# `local` (docs/slurm.md): the release gatherd on a temporary spool runs N
# one-task jobs (`true`) one after another, first `executor: local`, then
# `executor: slurm` against the cluster of scripts/setup-slurm.sh, and prints
# the median of each job's run (record: started_at to finished_at) and of its
# task's duration_ms (spawn to exit), and their differences. N is 100; 10 with
# --small. Without root or a cluster it prints why and measures local only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
count=100; [ "${1:-}" = "--small" ] && count=10
quiet_build -c release --product gatherd
slurm=yes
if [ "$(id -u)" != 0 ]; then
  echo "slurm-bench: executor slurm skipped: not root"; slurm=no
elif ! command -v srun >/dev/null || ! sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
  echo "slurm-bench: executor slurm skipped: no idle Slurm node (scripts/setup-slurm.sh sets one up)"; slurm=no
fi
spool=$(mktemp -d /tmp/gatherd-slurm-bench.XXXXXX)
chmod 755 "$spool"
.build/release/gatherd --spool "$spool" --cgroup off --log-target stderr 2>/dev/null &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$spool"' EXIT
python3 - "$spool" "$count" "$slurm" <<'PY'
import json, os, statistics, sys, time
from datetime import datetime
spool, count, slurm = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "yes"
while not os.path.isdir(os.path.join(spool, "done")):
    time.sleep(0.01)

def ms(stamp):
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000

def run(executor):
    runs, tasks = [], []
    for i in range(count):
        job = f"{executor}-{i}"
        tmp = os.path.join(spool, "incoming", f".{job}.tmp")
        with open(tmp, "w") as f:
            json.dump({"executor": executor, "cwd": "/tmp", "tasks": [{"name": "t", "command": ["true"]}]}, f)
        os.rename(tmp, os.path.join(spool, "incoming", f"{job}.json"))
        deadline = time.time() + 60
        while True:
            for area in ("done", "failed", "rejected"):
                path = os.path.join(spool, area, job, "result.json")
                if os.path.exists(path):
                    break
            else:
                if time.time() > deadline:
                    sys.exit(f"slurm-bench: {job} has no record after 60 s")
                time.sleep(0.002)
                continue
            break
        record = json.load(open(path))
        if record["state"] != "succeeded":
            sys.exit(f"slurm-bench: {job} {record['state']}: {record.get('error')}")
        runs.append(ms(record["finished_at"]) - ms(record["started_at"]))
        tasks.append(record["tasks"][0]["duration_ms"])
    return statistics.median(runs), statistics.median(tasks)

local = run("local")
print(f"executor local: {count} one-task jobs: median job run {local[0]:.1f} ms, task {local[1]:.1f} ms")
if slurm:
    remote = run("slurm")
    print(f"executor slurm: {count} one-task jobs: median job run {remote[0]:.1f} ms, task {remote[1]:.1f} ms")
    print(f"per-task overhead of slurm over local (medians): job run +{remote[0] - local[0]:.1f} ms, "
          f"task (srun) +{remote[1] - local[1]:.1f} ms")
PY
