"""compare-bench driver: gatherd against what users would pick instead (issue 10).

Run through scripts/compare-bench.sh, which builds gatherd (release), compiles
the C helpers of this folder into BIN, starts a private journald when it can
and then runs

    python3 driver.py --mode small|full --work DIR --bin BIN --gatherd PATH
                      [--gatherd-static PATH] [--log-target stderr]
                      [--journal TEXT] [--report FILE]

Every scenario is one function `scenario_N`; each returns a `Section` (a title,
notes and tables) that is printed at once and, in full mode, written to the
report. Contenders are alternated within each repeat, so that noise from the
other work on the machine falls on all of them alike; the tables give medians,
the spread (min–max, or p10–p90 from 10 samples up) and the ratio to the floor.
All times are CLOCK_MONOTONIC (time.monotonic_ns() here, clock_gettime in C).
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import tempfile
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "pylib"))
from gatherd_start import start_ready, tail  # noqa: E402

# ---------------------------------------------------------------- settings

SIZES = {
    # scenario knobs per mode: small must finish (with builds) in ~3 minutes
    "small": dict(s1_tasks=200, s1_reps=2, s2_jobs=300, s2_reps=1, s3_drops=20,
                  s4_reps=2, s5_ns=[200], s5_reps=1, s5_cpu_window=2.0, s6_idle=5.0),
    "full": dict(s1_tasks=2000, s1_reps=5, s2_jobs=10000, s2_reps=3, s3_drops=200,
                 s4_reps=10, s5_ns=[1000, 2500, 5000, 10000], s5_reps=1, s5_cpu_window=5.0,
                 s6_idle=60.0),
}
GATHERD_DEFAULT_MAX_JOBS = 16  # SPEC §9 --max-jobs default
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

ARGS: argparse.Namespace
CONF: dict
CLEANUPS: list = []  # callables run at exit, last first


def log(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- statistics

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0…100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return float("nan")
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def spread(values: list[float], fmt) -> str:
    if len(values) >= 10:
        return f"{fmt(percentile(values, 10))}–{fmt(percentile(values, 90))} (p10–p90)"
    return f"{fmt(min(values))}–{fmt(max(values))}"


def secs(v: float) -> str:
    return f"{v:.3f} s"


def ms(v: float) -> str:
    return f"{v:.2f} ms"


def mib(v: float) -> str:
    return f"{v:.1f} MiB"


# ---------------------------------------------------------------- report

@dataclass
class Section:
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.tables.append((header, rows))

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        for note in self.notes:
            out += [note, ""]
        for header, rows in self.tables:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
        return "\n".join(out)


TARGETS: list[list[str]] = []  # [target, figure, met/missed]


def target(name: str, figure: str, met: bool | None) -> None:
    verdict = "n/a" if met is None else ("met" if met else "**missed**")
    TARGETS.append([name, figure, verdict])


# ---------------------------------------------------------------- processes

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of PID in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def cpu_ticks(pid: int) -> int:
    """utime + stime of PID (all its threads) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def processes_running(exe: str) -> list[int]:
    """PIDs whose executable is EXE (our own helpers live in a private folder)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == exe:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def kill_leftovers(exe: str) -> int:
    pids = processes_running(exe)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


class Daemon:
    """One gatherd on a private spool, started and stopped by the benchmark."""

    def __init__(self, exe: str, spool: str, args: list[str] = (), nofile: int | None = None):
        self.exe, self.spool, self.args, self.nofile = exe, spool, list(args), nofile
        self.process: subprocess.Popen | None = None
        self.stderr_path = spool.rstrip("/") + ".stderr"

    def start(self) -> "Daemon":
        os.makedirs(self.spool, exist_ok=True)
        # READY=1 arrives on a notify socket of our own (SPEC §9, Type=notify).
        command = [self.exe, "--spool", self.spool] + ARGS.log_args + self.args
        if self.nofile:
            command = ["prlimit", f"--nofile={self.nofile}:{self.nofile}", "--"] + command

        def started(process: subprocess.Popen) -> None:
            self.process = process
            CLEANUPS.append(self.stop)
        start_ready(command, dict(os.environ), self.stderr_path, self.spool.rstrip("/") + ".notify", started=started)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid  # prlimit execs gatherd: the same PID

    def tail(self) -> str:
        return tail(self.stderr_path, 2000)

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # -- the spool, as a user uses it

    def drop(self, job_id: str, job: dict) -> int:
        """Write the job to a temporary file in incoming/, rename it; returns the ns just before rename()."""
        incoming = os.path.join(self.spool, "incoming")
        temporary = os.path.join(incoming, f".{job_id}.tmp")
        with open(temporary, "w") as f:
            json.dump(job, f)
        started = time.monotonic_ns()
        os.rename(temporary, os.path.join(incoming, f"{job_id}.json"))
        return started

    def record_path(self, job_id: str) -> str | None:
        for state in ("done", "failed", "rejected"):
            path = os.path.join(self.spool, state, job_id, "result.json")
            if os.path.exists(path):
                if state == "rejected":
                    raise RuntimeError(f"job {job_id} rejected: {open(path).read()}")
                return path
        return None

    def wait_record(self, job_id: str, timeout: float = 300, poll: float = 0.0005) -> tuple[int, dict]:
        """Polls for the job's result.json; returns (ns when seen, the record)."""
        deadline = time.monotonic() + timeout
        while True:
            path = self.record_path(job_id)
            if path:
                seen = time.monotonic_ns()
                with open(path) as f:
                    return seen, json.load(f)
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"no record for {job_id}: {self.tail()}")
            time.sleep(poll)


def run_timed(command: list[str], **kwargs) -> float:
    """Wall time (s) of a command run to its end; it must succeed."""
    started = time.monotonic_ns()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, **kwargs)
    return (time.monotonic_ns() - started) / 1e9


def fresh_dir(*parts: str) -> str:
    path = os.path.join(ARGS.work, *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def bin_path(name: str) -> str:
    return os.path.join(ARGS.bin, name)


def true_tasks(n: int) -> list[dict]:
    return [{"name": f"t{i:05d}", "command": ["/bin/true"]} for i in range(n)]


# ---------------------------------------------------------------- scenarios

def scenario_1() -> Section:
    """One job of N /bin/true at max_parallel 8 against the usual tools at 8 at a time."""
    n, reps = CONF["s1_tasks"], CONF["s1_reps"]
    section = Section(f"1. One job of {n:,} `/bin/true`, 8 at a time ({reps} repeats, alternated)")
    section.notes.append("gatherd: drop (rename into `incoming/`) → `result.json` present, daemon already "
                         "running. Others: wall time of the command, start to exit.")
    work = fresh_dir("s1")
    argsfile = os.path.join(work, "args")
    with open(argsfile, "w") as f:
        f.write("".join(f"{i}\n" for i in range(n)))
    daemon = Daemon(ARGS.gatherd, os.path.join(work, "spool")).start()
    job = {"name": "bench-true", "max_parallel": 8, "tasks": true_tasks(n)}

    def run_gatherd(rep: int) -> float:
        job_id = f"s1-{rep}"
        started = daemon.drop(job_id, job)
        seen, record = daemon.wait_record(job_id, poll=0.001)
        assert record["state"] == "succeeded", record.get("error")
        return (seen - started) / 1e9

    contenders: list[tuple[str, object]] = [
        ("C posix_spawn loop (floor)", lambda rep: run_timed([bin_path("spawnloop"), str(n), "8", "/bin/true"])),
        ("gatherd", run_gatherd),
        ("xargs -P8", lambda rep: run_timed(["xargs", "-P8", "-n1", "-a", argsfile, "/bin/true"])),
        ("python asyncio.gather + Semaphore(8)", lambda rep: run_timed(
            [sys.executable, os.path.join(ARGS.sources, "asyncio_gather.py"), str(n), "8", "/bin/true"])),
    ]
    parallel = shutil.which("parallel")
    if parallel:
        contenders.append(("GNU parallel -j8", lambda rep: run_timed(
            [parallel, "--will-cite", "-j8", "/bin/true", "::::", argsfile], stderr=subprocess.DEVNULL)))
    else:
        section.notes.append(f"GNU parallel skipped: {os.environ.get('COMPARE_PARALLEL_REASON', 'not installed')}.")

    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for rep in range(reps):
        # rotate the order each repeat: no contender always runs first
        order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
        for name, run in order:
            times[name].append(run(rep))
        log(f"  repeat {rep + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    daemon.stop()

    floor = median(times[contenders[0][0]])
    rows = []
    for name, _ in contenders:
        m = median(times[name])
        rows.append([name, secs(m), spread(times[name], secs), f"{n / m:,.0f}/s", f"{m / floor:.2f}×"])
    section.table(["contender", "median", "spread", "tasks/s", "× floor"], rows)
    g = median(times["gatherd"])
    target(f"(1) one job of {n:,} /bin/true: ≤ 1.15× the C loop", f"{g / floor:.2f}×", g / floor <= 1.15)
    target("(1) … and below xargs -P8", f"{g:.3f} s vs {median(times['xargs -P8']):.3f} s",
           g < median(times["xargs -P8"]))
    return section


def scenario_2() -> Section:
    """N one-task job files dropped at once → the last record; every file recorded exactly once."""
    n, reps = CONF["s2_jobs"], CONF["s2_reps"]
    section = Section(f"2. {n:,} one-task job files dropped at once ({reps} repeats, alternated)")
    section.notes.append("gatherd (defaults: --max-jobs 16): the files are written to a staging folder, then "
                         "renamed into `incoming/` in a tight C loop; time from the first rename to the last "
                         "record (`incoming/` and `active/` empty). Floor: the C loop running "
                         f"{n:,} `/bin/true`, {GATHERD_DEFAULT_MAX_JOBS} at a time.")
    job_text = json.dumps({"tasks": [{"name": "t", "command": ["/bin/true"]}]})
    gatherd_times, floor_times, checks = [], [], []

    def run_gatherd(rep: int) -> float:
        work = fresh_dir("s2", f"r{rep}")
        staging = os.path.join(work, "staging")
        os.makedirs(staging)
        ids = [f"j{i:05d}" for i in range(n)]
        for job_id in ids:
            with open(os.path.join(staging, f"{job_id}.json"), "w") as f:
                f.write(job_text)
        daemon = Daemon(ARGS.gatherd, os.path.join(work, "spool")).start()
        incoming = os.path.join(daemon.spool, "incoming")
        active = os.path.join(daemon.spool, "active")
        started = time.monotonic_ns()
        subprocess.run([bin_path("dropall"), staging, incoming], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while True:
            # cheap test first: active/ has no job directory left (link count 2) …
            if os.stat(active).st_nlink == 2 and not any(
                    name.endswith(".json") for name in os.listdir(incoming)):
                if os.stat(active).st_nlink == 2:  # … and still none once incoming/ is empty
                    break
            if time.monotonic() > deadline or daemon.process.poll() is not None:
                raise RuntimeError(f"scenario 2 did not finish: {daemon.tail()}")
            time.sleep(0.002)
        elapsed = (time.monotonic_ns() - started) / 1e9
        daemon.stop()
        # exactly once: one result.json per dropped ID, nothing left or renamed (-2) anywhere
        recorded = []
        for state in ("done", "failed", "rejected"):
            for job_id in os.listdir(os.path.join(daemon.spool, state)):
                if os.path.exists(os.path.join(daemon.spool, state, job_id, "result.json")):
                    recorded.append((state, job_id))
        leftovers = os.listdir(incoming) + os.listdir(active)
        ok = (len(recorded) == n and sorted(j for _, j in recorded) == ids
              and all(s == "done" for s, _ in recorded) and not leftovers)
        checks.append(f"repeat {rep + 1}: {len(recorded):,} records for {n:,} files "
                      f"({sum(s == 'done' for s, _ in recorded):,} done), {len(leftovers)} left in "
                      f"incoming/ or active/ — {'exactly once' if ok else 'MISMATCH'}")
        shutil.rmtree(work, ignore_errors=True)
        return elapsed

    for rep in range(reps):
        pair = [("floor", lambda: floor_times.append(
            run_timed([bin_path("spawnloop"), str(n), str(GATHERD_DEFAULT_MAX_JOBS), "/bin/true"]))),
                ("gatherd", lambda: gatherd_times.append(run_gatherd(rep)))]
        for _, run in (pair if rep % 2 == 0 else pair[::-1]):
            run()
        log(f"  repeat {rep + 1}/{reps}: floor {floor_times[-1]:.3f}s, gatherd {gatherd_times[-1]:.3f}s")
    floor = median(floor_times)
    rows = []
    for name, values in (("C posix_spawn loop, 16 at a time (floor)", floor_times), ("gatherd", gatherd_times)):
        m = median(values)
        rows.append([name, secs(m), spread(values, secs), f"{n / m:,.0f}/s", f"{m / floor:.2f}×"])
    section.table(["contender", "median", "spread", "jobs/s", "× floor"], rows)
    section.notes += checks
    rate = n / median(gatherd_times)
    target(f"(2) {n:,} jobs dropped at once: ≥ 1,000 jobs/s", f"{rate:,.0f} jobs/s", rate >= 1000)
    target("(2) every file recorded exactly once", "; ".join(c.split(" — ")[1] for c in checks),
           all(c.endswith("exactly once") for c in checks))
    return section


def fsync_cost(directory: str, tries: int) -> list[float]:
    """ms of: write a small file, fsync it, fsync its directory (the claim's sync cost)."""
    samples = []
    dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(tries):
            path = os.path.join(directory, f"f{i}")
            started = time.monotonic_ns()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b'{"state": "claimed"}\n')
            os.fsync(fd)
            os.close(fd)
            os.fsync(dirfd)
            samples.append((time.monotonic_ns() - started) / 1e6)
    finally:
        os.close(dirfd)
    return samples


def read_stamp(path: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no stamp in {path}")
        time.sleep(0.0005)


def scenario_3() -> Section:
    """Pickup latency: rename() into incoming/ → first instruction of the task (an idle daemon)."""
    drops = CONF["s3_drops"]
    section = Section(f"3. Pickup latency, {drops} drops one at a time (alternated with the floor)")
    section.notes.append("Time from just before `rename()` to the first instruction of the task, a static C "
                         "program writing CLOCK_MONOTONIC to a file; the next drop comes 20 ms after the "
                         "record. Floor: a C inotify (IN_MOVED_TO) + posix_spawn loop starting the same "
                         "program. Sync: one fsync of a small file plus one of its directory. The same "
                         "gatherd with its spool on a tmpfs (/dev/shm), where fsync costs nothing, gives "
                         "the pickup without the claim's sync.")
    work = fresh_dir("s3")
    stamps, floor_in, floor_out = (os.path.join(work, d) for d in ("stamps", "floor-in", "floor-out"))
    for d in (stamps, floor_in, floor_out):
        os.makedirs(d)
    daemon = Daemon(ARGS.gatherd, os.path.join(work, "spool")).start()
    # The same daemon with its spool on a tmpfs: the pickup without the sync.
    unsynced = None
    if os.access("/dev/shm", os.W_OK):
        shm = tempfile.mkdtemp(prefix="gatherd-bench-", dir="/dev/shm")
        CLEANUPS.append(lambda: shutil.rmtree(shm, ignore_errors=True))
        unsynced = Daemon(ARGS.gatherd, os.path.join(shm, "spool")).start()
    floor = subprocess.Popen([bin_path("inotifyspawn"), floor_in, bin_path("probe"), floor_out],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    CLEANUPS.append(lambda: floor.poll() is None and (floor.kill(), floor.wait()))
    floor.stdout.readline()  # "ready": the watch is in place
    gatherd_ms, floor_ms, unsynced_ms = [], [], []

    def drop_into(target: Daemon | None, prefix: str, into: list[float], i: int) -> None:
        if target is None:
            return
        job_id = f"{prefix}{i:04d}"
        out = os.path.join(stamps, job_id)
        started = target.drop(job_id, {"tasks": [{"name": "stamp", "command": [bin_path("probe"), "stamp", out]}]})
        target.wait_record(job_id)
        into.append((read_stamp(out) - started) / 1e6)

    def drop_gatherd(i: int) -> None:
        drop_into(daemon, "p", gatherd_ms, i)

    def drop_unsynced(i: int) -> None:
        drop_into(unsynced, "u", unsynced_ms, i)

    def drop_floor(i: int) -> None:
        name = f"p{i:04d}.json"
        temporary = os.path.join(floor_in, f".p{i:04d}.tmp")
        with open(temporary, "w") as f:
            f.write("{}")
        started = time.monotonic_ns()
        os.rename(temporary, os.path.join(floor_in, name))
        floor_ms.append((read_stamp(os.path.join(floor_out, name)) - started) / 1e6)

    for i in range(drops):
        order = (drop_gatherd, drop_floor, drop_unsynced) if i % 2 == 0 else (drop_unsynced, drop_floor, drop_gatherd)
        for run in order:
            run(i)
            time.sleep(0.02)
    daemon.stop()
    if unsynced is not None:
        unsynced.stop()
    floor.terminate()
    floor.wait()
    sync_ms = fsync_cost(fresh_dir("s3", "fsync"), drops)

    rows = []
    floor_p50 = percentile(floor_ms, 50)
    contenders = [("C inotify + posix_spawn (floor)", floor_ms), ("gatherd", gatherd_ms)]
    if unsynced_ms:
        contenders.append(("gatherd, spool on tmpfs (without the claim's sync)", unsynced_ms))
    else:
        section.notes.append("The tmpfs run was skipped: /dev/shm is not writable.")
    for name, values in contenders:
        rows.append([name, ms(percentile(values, 50)), ms(percentile(values, 90)), ms(percentile(values, 99)),
                     ms(max(values)), f"{percentile(values, 50) / floor_p50:.2f}×"])
    rows.append(["fsync file + directory (sync cost)", ms(percentile(sync_ms, 50)), ms(percentile(sync_ms, 90)),
                 ms(percentile(sync_ms, 99)), ms(max(sync_ms)), f"{percentile(sync_ms, 50) / floor_p50:.2f}×"])
    section.table(["path", "p50", "p90", "p99", "max", "p50 × floor"], rows)
    p50, p99 = percentile(gatherd_ms, 50), percentile(gatherd_ms, 99)
    target("(3) pickup latency p50 ≤ 2.0 ms", ms(p50), p50 <= 2.0)
    target(f"(3) pickup latency p99 ≤ 4.0 ms ({drops} drops)", ms(p99), p99 <= 4.0)
    return section


def scenario_4() -> Section:
    """Cancel latency: a failing task's exit → SIGTERM seen by each of 100 running siblings."""
    reps, siblings = CONF["s4_reps"], 100
    section = Section(f"4. Cancel latency, `cancel-siblings`, {siblings} running siblings ({reps} repeats)")
    section.notes.append(f"One job: {siblings} sibling tasks (a static C program whose SIGTERM handler writes "
                         "CLOCK_MONOTONIC and exits) and one task that sleeps 1 s, writes its time and exits 1. "
                         "Latency = the last sibling's stamp − the failing task's stamp (also: the median "
                         "sibling). `kill_grace` 5s; no sibling needs it.")
    work = fresh_dir("s4")
    daemon = Daemon(ARGS.gatherd, os.path.join(work, "spool")).start()
    last_ms, median_ms, notes = [], [], []
    for rep in range(reps):
        out = fresh_dir("s4", f"r{rep}")
        tasks = [{"name": f"s{i:03d}", "command": [bin_path("probe"), "term", os.path.join(out, f"s{i:03d}")]}
                 for i in range(siblings)]
        tasks.append({"name": "fail", "command": [bin_path("probe"), "fail", "1000", os.path.join(out, "fail")]})
        job_id = f"c{rep}"
        daemon.drop(job_id, {"policy": "cancel-siblings", "kill_grace": "5s", "tasks": tasks})
        _, record = daemon.wait_record(job_id, poll=0.005)
        failed_at = read_stamp(os.path.join(out, "fail"))
        sibling_stamps = [read_stamp(os.path.join(out, f"s{i:03d}"), timeout=1)
                          for i in range(siblings) if os.path.exists(os.path.join(out, f"s{i:03d}"))]
        cancelled = sum(t["outcome"] == "cancelled" for t in record["tasks"])
        if len(sibling_stamps) != siblings or cancelled != siblings:
            notes.append(f"repeat {rep + 1}: only {len(sibling_stamps)} stamps, {cancelled} cancelled")
        last_ms.append((max(sibling_stamps) - failed_at) / 1e6)
        median_ms.append((median(sibling_stamps) - failed_at) / 1e6)
        log(f"  repeat {rep + 1}/{reps}: last sibling {last_ms[-1]:.2f} ms, median sibling {median_ms[-1]:.2f} ms")
    daemon.stop()
    rows = [["failing exit → last sibling's SIGTERM", ms(median(last_ms)), spread(last_ms, ms), ms(max(last_ms))],
            ["failing exit → median sibling's SIGTERM", ms(median(median_ms)), spread(median_ms, ms),
             ms(max(median_ms))]]
    section.table(["latency", "p50", "spread", "max"], rows)
    section.notes += notes or [f"Every repeat: {siblings} stamps, {siblings} tasks `cancelled` in the record."]
    target("(4) cancel latency p50 ≤ 5 ms (last of 100 siblings)", ms(median(last_ms)), median(last_ms) <= 5.0)
    return section


def count_fifo(fd: int, want: int, timeout: float, ended=lambda: False) -> int:
    """Reads one byte per started sleeper from the FIFO until WANT arrived; returns ns when the last did.
    `ended()` tells when waiting longer is pointless (the job or the daemon ended)."""
    got, deadline = 0, time.monotonic() + timeout
    while got < want:
        left = deadline - time.monotonic()
        if left <= 0 or ended():
            raise RuntimeError(f"only {got} of {want} sleepers started")
        if select.select([fd], [], [], min(left, 1.0))[0]:
            got += len(os.read(fd, 65536))
    return time.monotonic_ns()


def scenario_5() -> Section:
    """N sleeping tasks in one job: time until all run, the daemon's RSS and CPU while they sleep."""
    ns, reps, window = CONF["s5_ns"], CONF["s5_reps"], CONF["s5_cpu_window"]
    section = Section("5. Many sleeping tasks in one job (max_parallel N)")
    section.notes.append("Start: drop → every sleeper (a static C program) has written its byte to a FIFO. "
                         f"gatherd runs with `--max-tasks 10000`, under `prlimit --nofile=65536:65536` where permitted. RSS "
                         f"once all run; CPU = utime+stime of gatherd over {window:g} s while they sleep. Floor: "
                         "a C loop posix_spawning the N sleepers, timed the same way. Clean-up: a cancel request "
                         "(`cancel/ID`), then a check that no sleeper is left.")
    work = fresh_dir("s5")
    fifo = os.path.join(work, "fifo")
    os.mkfifo(fifo)
    fifo_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # RDWR: never EOF between writers
    probe = bin_path("probe")
    CLEANUPS.append(lambda: kill_leftovers(probe))
    rows, notes = [], []
    # gatherd holds three descriptors per running task (stdout and stderr pipes, a pidfd).
    nofile = 65536
    if subprocess.run(["prlimit", f"--nofile={nofile}:{nofile}", "true"], stderr=subprocess.DEVNULL).returncode:
        import resource
        nofile = None  # gatherd raises its soft limit to the hard one itself
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        notes.append(f"`prlimit --nofile=65536:65536` is not permitted here (no CAP_SYS_RESOURCE): gatherd ran "
                     f"with the hard limit {hard:,}.")
    else:
        hard = nofile
    for n in ns:
        if 3 * n + 256 > hard:
            notes.append(f"N = {n:,} skipped: gatherd needs ~{3 * n + 256:,} descriptors (3 per task), the "
                         f"hard limit is {hard:,}.")
            target(f"(5) N={n:,}: start ≤ 1.3× the C loop", "not measured (descriptor limit)", None)
            continue
        for rep in range(reps):
            # floor: the C loop
            started = time.monotonic_ns()
            loop = subprocess.Popen([bin_path("spawnloop"), "-s", str(n), probe, "sleep", fifo],
                                    stdin=subprocess.DEVNULL)
            CLEANUPS.append(lambda loop=loop: loop.poll() is None and (loop.kill(), loop.wait()))
            floor_s = (count_fifo(fifo_fd, n, 600) - started) / 1e9
            loop.terminate()
            loop.wait()
            # gatherd
            spool = os.path.join(work, f"spool-{n}-{rep}")
            daemon = Daemon(ARGS.gatherd, spool, ["--max-tasks", "10000"], nofile=nofile).start()
            job_id = f"sleep-{n}"
            tasks = [{"name": f"s{i:05d}", "command": [probe, "sleep", fifo]} for i in range(n)]
            started = daemon.drop(job_id, {"max_parallel": n, "tasks": tasks})
            gatherd_s = (count_fifo(fifo_fd, n, 600, lambda: daemon.process.poll() is not None
                                    or daemon.record_path(job_id) is not None) - started) / 1e9
            status = proc_status(daemon.pid)
            ticks = cpu_ticks(daemon.pid)
            time.sleep(window)
            cpu = (cpu_ticks(daemon.pid) - ticks) / CLK_TCK / window * 100
            status_after = proc_status(daemon.pid)
            running = len(processes_running(probe))
            open(os.path.join(spool, "cancel", job_id), "w").close()
            cancel_started = time.monotonic_ns()
            _, record = daemon.wait_record(job_id, timeout=600, poll=0.01)
            cancel_s = (time.monotonic_ns() - cancel_started) / 1e9
            daemon.stop()
            time.sleep(0.2)
            left = kill_leftovers(probe)
            rss, hwm = status_after["VmRSS"] / 1024, status_after["VmHWM"] / 1024
            rows.append([f"{n:,}", secs(floor_s), secs(gatherd_s), f"{gatherd_s / floor_s:.2f}×",
                         mib(status["VmRSS"] / 1024), mib(rss), mib(hwm), f"{cpu:.2f}%",
                         f"{running:,}", secs(cancel_s), f"{record['state']}, {left} left"])
            log(f"  N={n}: floor {floor_s:.3f}s gatherd {gatherd_s:.3f}s ({gatherd_s / floor_s:.2f}×) "
                f"RSS {rss:.1f} MiB HWM {hwm:.1f} MiB CPU {cpu:.2f}% cancel {cancel_s:.2f}s, {left} left")
            target(f"(5) N={n:,}: start ≤ 1.3× the C loop", f"{gatherd_s / floor_s:.2f}×", gatherd_s / floor_s <= 1.3)
            if n == 5000:
                target("(5) 5,000 sleepers: ≤ 48 MiB RSS", mib(rss), rss <= 48)
                target("(5) 5,000 sleepers: ≤ 1% of a core", f"{cpu:.2f}%", cpu <= 1.0)
            if left:
                notes.append(f"N = {n:,}: {left} sleepers were left after the cancel and were killed.")
            shutil.rmtree(spool, ignore_errors=True)
    os.close(fifo_fd)
    section.table(["N", "C loop (floor)", "gatherd", "× floor", "RSS all running", "RSS after window",
                   "VmHWM", "CPU", "sleepers seen", "cancel → record", "end"], rows)
    section.notes += notes
    return section


WAKEUP_CALLS = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
                "futex", "clock_nanosleep", "nanosleep", "restart_syscall"}


def scenario_6() -> Section:
    """Idle: RSS of the static-stdlib build and its syscalls/wakeups while nothing happens."""
    idle = CONF["s6_idle"]
    section = Section(f"6. Idle daemon ({idle:g} s of strace)")
    work = fresh_dir("s6")
    rows = []
    builds = [("release, --static-swift-stdlib", ARGS.gatherd_static), ("release, shared Swift runtime", ARGS.gatherd)]
    static_rss = None
    for name, exe in builds:
        if not exe:
            section.notes.append(f"{name}: not built ({os.environ.get('COMPARE_STATIC_REASON', 'skipped')}).")
            continue
        daemon = Daemon(exe, os.path.join(work, f"spool-{len(rows)}")).start()
        time.sleep(1.0)
        status = proc_status(daemon.pid)
        rows.append([name, mib(status["VmRSS"] / 1024), mib(status["VmHWM"] / 1024), str(status["Threads"])])
        if exe == ARGS.gatherd_static:
            static_rss = status["VmRSS"] / 1024
            trace(section, daemon, idle, os.path.join(work, "strace.txt"))
        daemon.stop()
    section.table(["build", "idle VmRSS", "VmHWM", "threads"], rows)
    if static_rss is not None:
        target("(6) idle RSS ≤ 12 MiB (static stdlib)", mib(static_rss), static_rss <= 12)
    return section


def trace(section: Section, daemon: Daemon, idle: float, out: str) -> None:
    """strace -f -c (-C: with the calls, timestamped) of the idle daemon; counts wakeups in time."""
    strace = shutil.which("strace")
    if not strace:
        section.notes.append(f"strace: skipped ({os.environ.get('COMPARE_STRACE_REASON', 'not installed')}).")
        target("(6) no once-a-second wakeup", "not measured (no strace)", None)
        return
    # -C: the summary of -c plus every call with its time, to see when the wakeups come.
    tracer = subprocess.Popen(["timeout", "-s", "INT", f"{idle + 1:g}", strace, "-f", "-C", "-ttt", "-o", out,
                               "-p", str(daemon.pid)], stderr=subprocess.DEVNULL)
    tracer.wait()
    with open(out) as f:
        lines = f.read().splitlines()
    summary_at = next((i for i, line in enumerate(lines) if line.startswith("% time")), len(lines))
    # Each completed call once, with its full text: a call strace printed as
    # "<unfinished ...>" on one line and "<... NAME resumed>" on a later one is joined.
    calls = []  # (time of completion, name, text)
    pending: dict[str, str] = {}
    for line in lines[:summary_at]:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        try:
            stamp = float(parts[1])
        except ValueError:
            continue
        thread, text = parts[0], parts[2]
        if text.endswith("<unfinished ...>"):
            pending[thread] = text
            continue
        if text.startswith("<... "):
            name = text[5:].split(" ", 1)[0]
            text = pending.pop(thread, name + "(") + text
        else:
            name = text.split("(", 1)[0]
        calls.append((stamp, name, text))

    def wakes(name: str, text: str) -> bool:
        """A call that blocked and returned: a wait with a timeout other than 0, a futex WAIT, a sleep."""
        if name not in WAKEUP_CALLS:
            return False
        if name == "futex":
            return "FUTEX_WAIT" in text
        return ", 0)" not in text.split(" = ")[0][-6:]
    summary = "\n".join(lines[summary_at:])
    section.notes.append("`strace -f -c` of the idle static build (the calls that attach itself interrupts "
                         "are in it):\n\n```\n" + summary + "\n```")
    if not calls:
        target("(6) no once-a-second wakeup", "no calls at all", True)
        return
    # Wakeups: a blocking call that returned, counted after the first second (attaching restarts calls).
    begin = calls[0][0] + 1.0
    end = begin + idle - 1.0
    wakeups = [t for t, name, text in calls if begin <= t < end and wakes(name, text)]
    seconds_active = len({int(t - begin) for t, _, _ in calls if begin <= t < end})
    window = idle - 1.0
    periodic = seconds_active >= 0.8 * window
    section.table(["window", "syscalls", "wakeups (blocking epoll/poll/futex-wait/sleep returned)", "per second",
                   "seconds with any call"],
                  [[f"{window:g} s", str(sum(begin <= t < end for t, _, _ in calls)), str(len(wakeups)),
                    f"{len(wakeups) / window:.2f}", f"{seconds_active} of {window:g}"]])
    target("(6) no once-a-second wakeup", f"calls in {seconds_active} of {window:g} seconds, "
                                          f"{len(wakeups) / window:.2f} wakeup calls/s", not periodic)


# ---------------------------------------------------------------- main

def machine() -> list[str]:
    def read(path: str, key: str | None = None) -> str:
        try:
            with open(path) as f:
                for line in f:
                    if key is None:
                        return line.strip()
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"
    def first_line(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    commit = first_line(["git", "-C", ARGS.sources, "describe", "--always", "--dirty"])
    versions = [first_line(["cc", "--version"]), first_line(["xargs", "--version"]),
                f"Python {platform.python_version()}"]
    if shutil.which("parallel"):
        versions.append(first_line(["parallel", "--version"]))
    mem_kib = int(read("/proc/meminfo", "MemTotal").split()[0] or 0)
    fs = subprocess.run(["stat", "-f", "-c", "%T", ARGS.work], capture_output=True, text=True).stdout.strip()
    return [
        f"- CPUs: {os.cpu_count()} (`nproc`: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), "
        f"{read('/proc/cpuinfo', 'model name')}",
        f"- Memory: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: {platform.release()}; Debian {read('/etc/debian_version')}",
        f"- Load average at start: {' '.join(open('/proc/loadavg').read().split()[:3])}",
        f"- Spool file system: {fs}",
        f"- Journal: {ARGS.journal}",
        f"- gatherd: commit {commit}, release build (`swift build -c release --product gatherd`); idle "
        f"figures also from `--static-swift-stdlib` (scratch path `.build-static`)",
        f"- Contenders: {', '.join(versions)}",
    ]


def main() -> None:
    global ARGS, CONF
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=SIZES, default="full")
    parser.add_argument("--work", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--gatherd", required=True)
    parser.add_argument("--gatherd-static", default="")
    parser.add_argument("--log-target", default="")
    parser.add_argument("--journal", default="?")
    parser.add_argument("--report", default="")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    ARGS = parser.parse_args()
    ARGS.sources = os.path.dirname(os.path.abspath(__file__))
    ARGS.log_args = ["--log-target", ARGS.log_target] if ARGS.log_target else []
    CONF = SIZES[ARGS.mode]
    atexit.register(lambda: [c() for c in reversed(CLEANUPS)])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.time()
    header = machine()
    log("\n".join(header))
    scenarios = [scenario_1, scenario_2, scenario_3, scenario_4, scenario_5, scenario_6]
    only = {int(x) for x in ARGS.only.split(",") if x}
    sections = []
    for number, scenario in enumerate(scenarios, 1):
        if only and number not in only:
            continue
        log(f"\n== {scenario.__doc__.strip().splitlines()[0]}")
        section = scenario()
        sections.append(section)
        log("\n" + section.markdown())
    targets = Section("Targets (issue 10)")
    targets.table(["target", "measured", ""], TARGETS)
    log("\n" + targets.markdown())
    log(f"compare-bench ({ARGS.mode}) took {time.time() - started:.0f} s")

    if ARGS.report:
        with open(ARGS.report, "w") as f:
            f.write("# Benchmarks: gatherd against what users would pick instead\n\n")
            f.write(f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} by `scripts/compare-bench.sh` (full mode, "
                    f"{time.time() - started:.0f} s). Sources: `Benchmarks/compare/`.\n\n")
            f.write("## Machine\n\n" + "\n".join(header) + "\n\n")
            f.write("## How it runs\n\n"
                    "Each scenario alternates gatherd with its contenders within every repeat, so noise from "
                    "other work on the machine falls on all of them; tables give the median, the spread "
                    "(min–max, or p10–p90 from 10 samples) and the ratio to the floor (a plain C program doing "
                    "the least the job needs). gatherd runs as a user runs it: a release build, a spool of its "
                    "own, jobs dropped into `incoming/` by `rename()` from a temporary file in the same file "
                    "system, records read from `done/` or `failed/`. The machine has 2 cores and was shared "
                    "with other work during the run: absolute figures are noisy, ratios less so.\n\n")
            f.write(f"Command: `scripts/compare-bench.sh` (full). Load average at the end: "
                    f"{' '.join(open('/proc/loadavg').read().split()[:3])}.\n\n")
            f.write("## Results\n\n")
            for section in sections:
                f.write(section.markdown() + "\n")
            f.write("## " + targets.markdown()[4:] + "\n")
        log(f"report written to {ARGS.report}")


if __name__ == "__main__":
    main()
