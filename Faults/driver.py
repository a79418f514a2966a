"""gatherd's fault suite (issue 12, docs/RELIABILITY.md): the release binaries
attacked from outside, each fault a case that checks what gatherd promises.

Run through scripts/fault-suite.sh, which builds what it needs and calls

    python3 driver.py --gatherd PATH --gatherctl PATH [--fuzz PATH]
                      --work DIR [--seed N] [--only CASE,...] [--report FILE]

Cases (each bounded in time, each cleans up after itself, the seed printed so
a failure can be replayed with --seed):

  kill9     50 `kill -9` of gatherd at random moments of a mixed load (quick
            jobs, sleepers, restartable jobs, spawn storms, escapees): every
            file one record, no duplicate run, no process of a killed run
            left, no zombie under gatherd.
  burst     10,000 files dropped at once with the inotify queue shrunk so it
            overflows: every file recorded once; peak RSS.
  floods    5 tasks writing 200 MB each and one 50 MB line with no newline:
            the jobs end, RSS stays bounded.
  sighup    slow writers holding their files open under a SIGHUP storm:
            every file runs once, whole.
  diskfull  the spool on a small tmpfs filled at the claim, while tasks run
            (progress), and at the record: every file ends in one record
            once space is back, and gatherd says it paused.
  journald  journald stopped and started, then killed, while tasks log
            numbered lines: each line is in the journal or on stderr.
  fuzz      10,000 mutated job files through the validator in process
            (gather-fuzz), 300 of them through the daemon: each runs or is
            rejected with the validator's words, and the two agree.

Needs root (cgroups, tmpfs, journald, the inotify limit); a case that cannot
have what it needs says why and is skipped, never passed.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "pylib"))
from gatherd_start import start_ready, tail  # noqa: E402

ARGS: argparse.Namespace
RNG: random.Random
CLEANUPS: list = []
FIGURES: dict[str, list[str]] = {}


def log(text: str) -> None:
    print(text, flush=True)


class Failure(Exception):
    """A promise that did not hold."""


class Skip(Exception):
    """What a case needs is not here (the reason is printed)."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


def figure(case: str, text: str) -> None:
    FIGURES.setdefault(case, []).append(text)
    log(f"   {text}")


# ---------------------------------------------------------------- processes

def become_subreaper() -> None:
    """Orphans of a killed gatherd come to this driver, which reaps them, so a
    zombie left on the machine is never this suite's own doing."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


MANAGED: set[int] = set()  # children a Popen waits for itself


def reap() -> None:
    """Reaps the zombies that came to this subreaper (never a Popen's own child)."""
    for pid in zombie_children(os.getpid()):
        if pid in MANAGED:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def run_reaping(command: list[str], timeout: float = 60) -> int:
    """Runs a command while reaping: a script whose background child came to
    this subreaper may wait for that child to be gone (test-journald.sh stop)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    MANAGED.add(process.pid)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                raise Failure(f"{' '.join(command)} did not end in {timeout:.0f} s")
            reap()
            time.sleep(0.02)
    finally:
        MANAGED.discard(process.pid)
    return process.returncode


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()[0]


def proc_status(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def zombie_children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    state = proc_state(pid)
    return state is not None and state != "Z"


def wait_until(condition, timeout: float, poll: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        reap()
        time.sleep(poll)


# ---------------------------------------------------------------- cgroups

def cgroup2_mount() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            if fields[dash + 1] == "cgroup2":
                return fields[4]
    return None


def remove_cgroup(path: str) -> None:
    if not os.path.isdir(path):
        return
    for name in os.listdir(path):
        if os.path.isdir(os.path.join(path, name)):
            remove_cgroup(os.path.join(path, name))
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
    except OSError:
        pass
    for _ in range(200):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def own_cgroup(name: str) -> str | None:
    """A cgroup of this case's own (`--cgroup PATH`), or None (then `--cgroup off`)."""
    mount = cgroup2_mount()
    if os.geteuid() != 0 or mount is None:
        return None
    path = os.path.join(mount, f"gatherd-fault-{name}-{os.getpid()}")
    try:
        os.mkdir(path)
    except OSError:
        return None
    CLEANUPS.append(lambda: remove_cgroup(path))
    return path


# ---------------------------------------------------------------- the daemon

class Daemon:
    """gatherd on a private spool, with a notify socket of its own."""

    def __init__(self, spool: str, args: list[str] = (), cgroup: str | None = None, log_target: str = "stderr"):
        self.spool = spool
        self.args = list(args)
        self.cgroup = cgroup
        self.log_target = log_target
        self.process: subprocess.Popen | None = None
        self.stderr_path = spool.rstrip("/") + ".stderr"

    def start(self, wait_ready: bool = True) -> "Daemon":
        os.makedirs(os.path.join(self.spool, "incoming"), exist_ok=True)
        os.chmod(os.path.join(self.spool, "incoming"), 0o700)
        command = [ARGS.gatherd, "--spool", self.spool, "--log-target", self.log_target,
                   "--cgroup", self.cgroup or "off"] + self.args
        env = dict(os.environ)
        env.pop("WATCHDOG_USEC", None)

        def started(process: subprocess.Popen) -> None:
            self.process = process
            MANAGED.add(process.pid)
            CLEANUPS.append(self.kill)
        try:
            start_ready(command, env, self.stderr_path, self.spool.rstrip("/") + ".notify",
                        wait=wait_ready, started=started)
        except RuntimeError as error:
            raise Failure(str(error))
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, size: int = 3000) -> str:
        return tail(self.stderr_path, size)

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def drop(self, job_id: str, job: dict | str) -> None:
        incoming = os.path.join(self.spool, "incoming")
        temporary = os.path.join(incoming, f".{job_id}.tmp")
        with open(temporary, "w") as f:
            f.write(job if isinstance(job, str) else json.dumps(job))
        os.rename(temporary, os.path.join(incoming, f"{job_id}.json"))

    def records(self) -> dict[str, list[str]]:
        """Job ID → the areas holding a result.json for it."""
        found: dict[str, list[str]] = {}
        for area in ("done", "failed", "rejected"):
            directory = os.path.join(self.spool, area)
            for name in os.listdir(directory) if os.path.isdir(directory) else []:
                if os.path.exists(os.path.join(directory, name, "result.json")):
                    found.setdefault(name, []).append(area)
        return found

    def record(self, job_id: str) -> dict:
        for area in ("done", "failed", "rejected"):
            path = os.path.join(self.spool, area, job_id, "result.json")
            if os.path.exists(path):
                with open(path) as f:
                    return json.load(f)
        raise Failure(f"no record of {job_id}")

    def names(self, area: str) -> list[str]:
        directory = os.path.join(self.spool, area)
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def fresh(name: str) -> str:
    path = os.path.join(ARGS.work, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    CLEANUPS.append(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


# ---------------------------------------------------------------- cases

def case_kill9() -> None:
    """50 kill -9 at random moments of a mixed load."""
    work = fresh("kill9")
    spool, marks = os.path.join(work, "spool"), os.path.join(work, "marks")
    os.makedirs(marks)
    os.chmod(marks, 0o1777)
    cgroup = own_cgroup("kill9")
    trials = 50
    dropped: dict[str, bool] = {}  # id → restartable
    pids_file = os.path.join(marks, "pids")

    def job(i: int, kind: str) -> tuple[str, dict]:
        jid = f"k{i:04d}-{kind}"
        mark = lambda task: f"echo $$ >> {pids_file}; echo run >> {marks}/{jid}.{task}"
        if kind == "quick":
            tasks = [{"name": f"q{n}", "command": sh(mark(f"q{n}"))} for n in range(3)]
        elif kind == "sleeper":
            tasks = [{"name": "s", "command": sh(mark("s") + f"; sleep {RNG.choice(['0.2', '0.5', '1'])}")}]
        elif kind == "storm":
            tasks = [{"name": f"t{n}", "command": ["true"]} for n in range(150)]
            tasks.append({"name": "mark", "command": sh(mark("mark"))})
        elif kind == "escapee":
            tasks = [{"name": "e", "command": sh(mark("e") + f"; setsid sh -c 'echo $$ >> {pids_file}; exec sleep 30' & sleep 0.3")}]
        else:  # restartable
            tasks = [{"name": "r", "command": sh(mark("r") + "; sleep 0.6")}]
        return jid, {"kill_grace": "1s", "restartable": kind == "restart", "output": "discard", "tasks": tasks}

    # Escapees (setsid) are stopped only with cgroups (docs/cgroups.md).
    kinds = ["quick", "quick", "sleeper", "storm", "restart"] + (["escapee"] if cgroup else [])
    zombies_seen = 0
    counter = 0
    started = time.monotonic()
    for trial in range(trials):
        daemon = Daemon(spool, cgroup=cgroup)
        for _ in range(RNG.randint(2, 5)):
            counter += 1
            kind = RNG.choice(kinds)
            jid, body = job(counter, kind)
            if trial == 0 or RNG.random() < 0.5:
                os.makedirs(os.path.join(spool, "incoming"), exist_ok=True)
                os.chmod(os.path.join(spool, "incoming"), 0o700)
                daemon.drop(jid, body)  # before the start: the scan claims it
                dropped[jid] = kind == "restart"
        daemon.start()
        for _ in range(RNG.randint(0, 3)):
            counter += 1
            kind = RNG.choice(kinds)
            jid, body = job(counter, kind)
            daemon.drop(jid, body)  # while it runs: the watch claims it
            dropped[jid] = kind == "restart"
        time.sleep(RNG.uniform(0.0, 0.8))
        zombies = [z for z in zombie_children(daemon.pid) if proc_state(z) == "Z"]
        if zombies:
            time.sleep(0.2)
            zombies_seen += len([z for z in zombies if proc_state(z) == "Z" and z in zombie_children(daemon.pid)])
        daemon.kill(signal.SIGKILL)
        reap()
    final = Daemon(spool, cgroup=cgroup, args=["--exit-when-idle"]).start()
    status = final.wait(180)
    check(status == 0, f"the last run did not end cleanly ({status}): {final.tail()}")
    reap()
    took = time.monotonic() - started

    records = final.records()
    missing = [j for j in dropped if j not in records]
    check(not missing, f"{len(missing)} files without a record: {missing[:5]}")
    extra = [j for j in records if j not in dropped]
    check(not extra, f"records of files never dropped (a second claim?): {extra[:5]}")
    double = {j: a for j, a in records.items() if len(a) > 1}
    check(not double, f"files with two records: {double}")
    check(not final.names("incoming") and not final.names("active"),
          f"left in incoming/active: {final.names('incoming')} {final.names('active')}")
    runs_over = []
    for name in os.listdir(marks):
        if name == "pids":
            continue
        jid = name.rsplit(".", 1)[0]
        with open(os.path.join(marks, name)) as f:
            count = len(f.read().split())
        if count > (3 if dropped.get(jid) else 1):
            runs_over.append((name, count))
    check(not runs_over, f"tasks run more often than allowed: {runs_over[:5]}")
    with open(pids_file) as f:
        pids = [int(p) for p in f.read().split()]
    left = [p for p in pids if alive(p)]
    check(not left, f"{len(left)} processes of killed runs still alive: {left[:5]}")
    check(zombies_seen == 0, f"{zombies_seen} zombies under a running gatherd")
    if cgroup:
        leftover = [n for n in os.listdir(cgroup) if n.startswith("job-")]
        check(not leftover, f"job cgroups left: {leftover}")
    states: dict[str, int] = {}
    for jid in dropped:
        state = final.record(jid)["state"]
        states[state] = states.get(state, 0) + 1
    figure("kill9", f"{trials} kill -9 trials, {len(dropped)} files, {len(pids)} task processes: "
                    f"every file one record ({', '.join(f'{v} {k}' for k, v in sorted(states.items()))}), "
                    f"no duplicate run, no process left, no zombie; {took:.1f} s"
                    + ("" if cgroup else " (without cgroups: no cgroup2 here)"))


def case_burst() -> None:
    """10,000 files at once with the inotify queue made small enough to overflow."""
    if os.geteuid() != 0:
        raise Skip("needs root to shrink fs.inotify.max_queued_events")
    work = fresh("burst")
    spool, stage = os.path.join(work, "spool"), os.path.join(work, "stage")
    os.makedirs(stage)
    count = 10_000
    knob = "/proc/sys/fs/inotify/max_queued_events"
    with open(knob) as f:
        saved = f.read().strip()
    # An inotify instance takes the limit when it is made: gatherd's watch
    # gets a queue of 256 events, for 10,000 renames.
    with open(knob, "w") as f:
        f.write("256")
    try:
        daemon = Daemon(spool, cgroup=own_cgroup("burst")).start()
    finally:
        with open(knob, "w") as f:
            f.write(saved)
    body = json.dumps({"output": "discard", "tasks": [{"name": "t", "command": ["true"]}]})
    for i in range(count):
        with open(os.path.join(stage, f"b{i:05d}.json"), "w") as f:
            f.write(body)
    incoming = os.path.join(spool, "incoming")
    began = time.monotonic()
    for i in range(count):
        os.rename(os.path.join(stage, f"b{i:05d}.json"), os.path.join(incoming, f"b{i:05d}.json"))
    dropped = time.monotonic() - began
    done = wait_until(lambda: len(daemon.names("done")) >= count, 600, 0.2)
    took = time.monotonic() - began
    records = daemon.records()
    check(done, f"only {len(records)} of {count} recorded after {took:.0f} s: {daemon.tail()}")
    check(len(records) == count and all(a == ["done"] for a in records.values()),
          f"{len(records)} records, some not once in done/")
    peak = proc_status(daemon.pid, "VmHWM")
    daemon.kill(signal.SIGTERM)
    figure("burst", f"{count} files renamed in {dropped:.2f} s into a watch whose queue holds 256 events (it overflows): "
                    f"all recorded once in {took:.1f} s ({count / took:.0f} jobs/s); peak RSS {peak / 2**20:.1f} MiB")


def case_floods() -> None:
    """5 × 200 MB of output and one 50 MB line without a newline."""
    work = fresh("floods")
    spool = os.path.join(work, "spool")
    daemon = Daemon(spool, cgroup=own_cgroup("floods"), log_target="stderr").start()
    rss_before = proc_status(daemon.pid, "VmRSS")
    flood = "head -c 200000000 /dev/zero | tr '\\0' 'x' | fold -w 100"
    daemon.drop("flood", {"output": "discard", "tasks": [{"name": f"f{n}", "command": sh(flood)} for n in range(5)]})
    daemon.drop("line", {"output": "discard", "tasks": [
        {"name": "l", "command": sh("head -c 50000000 /dev/zero | tr '\\0' 'y'; exit 1")}]})
    peak = 0
    began = time.monotonic()
    deadline = began + 300
    while time.monotonic() < deadline and len(daemon.records()) < 2:
        peak = max(peak, proc_status(daemon.pid, "VmRSS"))
        time.sleep(0.05)
    took = time.monotonic() - began
    check(len(daemon.records()) == 2, f"the flood jobs did not end in {took:.0f} s")
    check(daemon.record("flood")["state"] == "succeeded", "the 5 × 200 MB job did not succeed")
    line = daemon.record("line")
    check(line["state"] == "failed", "the 50 MB line job's exit 1 was not seen")
    tail = line["tasks"][0].get("stderr_tail", "")
    check(len(tail.encode()) <= 4096, "the stderr tail is over 4 KiB")
    hwm = proc_status(daemon.pid, "VmHWM")
    check(hwm < 128 * 2**20, f"peak RSS {hwm / 2**20:.1f} MiB over the 128 MiB bound")
    daemon.kill(signal.SIGTERM)
    figure("floods", f"5 × 200 MB (1 GB) of lines and a 50 MB line with no newline through the daemon in {took:.1f} s "
                     f"({1050 / took:.0f} MB/s); RSS {rss_before / 2**20:.1f} MiB before, "
                     f"peak {max(peak, hwm) / 2**20:.1f} MiB (bound 128 MiB)")


def case_sighup() -> None:
    """Slow writers hold their files open while SIGHUP storms rescan."""
    work = fresh("sighup")
    spool = os.path.join(work, "spool")
    daemon = Daemon(spool, cgroup=own_cgroup("sighup")).start()
    incoming = os.path.join(spool, "incoming")
    writers = 20
    body = json.dumps({"output": "discard", "tasks": [{"name": "t", "command": ["true"]}]})
    chunks = [body[i * len(body) // 5:(i + 1) * len(body) // 5] for i in range(5)]
    files = [open(os.path.join(incoming, f"w{n:02d}.json"), "w") for n in range(writers)]
    hups = 0
    began = time.monotonic()
    for chunk in chunks:
        for f in files:
            f.write(chunk)
            f.flush()
        for _ in range(5):
            daemon.process.send_signal(signal.SIGHUP)
            hups += 1
            time.sleep(0.01)
        time.sleep(0.05)
    check(not daemon.records(), f"claimed while still being written: {sorted(daemon.records())}")
    for f in files:
        f.close()
    done = wait_until(lambda: len(daemon.records()) >= writers, 60)
    records = daemon.records()
    check(done and len(records) == writers, f"{len(records)} of {writers} recorded")
    bad = [j for j in records if records[j] != ["done"]]
    check(not bad, f"not run whole: {[(j, daemon.record(j).get('error')) for j in bad][:3]}")
    check(daemon.process.poll() is None, "gatherd died")
    daemon.kill(signal.SIGTERM)
    figure("sighup", f"{writers} files written in 5 pieces each under {hups} SIGHUPs: none claimed while open, "
                     f"all {writers} ran once, whole ({time.monotonic() - began:.1f} s)")


def case_diskfull() -> None:
    """The spool's file system full at the claim, while tasks run, and at the record."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise Skip("needs root and mount(8) for a small tmpfs")
    work = fresh("diskfull")
    spool = os.path.join(work, "spool")
    os.makedirs(spool)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", spool]).returncode != 0:
        raise Skip("mount -t tmpfs failed (no privilege in this container?)")
    CLEANUPS.append(lambda: subprocess.run(["umount", "-l", spool]))
    filler = os.path.join(spool, "filler")

    def fill() -> None:
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass

    def free() -> None:
        os.unlink(filler)

    daemon = Daemon(spool, cgroup=own_cgroup("diskfull"), log_target="stderr").start()
    jobs: list[str] = []
    phases = {
        "claim": lambda i: {"output": "discard", "tasks": [{"name": "t", "command": ["true"]}]},
        "progress": lambda i: {"output": "discard", "tasks": [
            {"name": f"p{n}", "command": sh("sleep 0.5")} for n in range(20)]},
        "record": lambda i: {"output": "discard", "tasks": [{"name": "t", "command": sh("sleep 0.8; exit 2")}]},
    }
    began = time.monotonic()
    for phase, make in phases.items():
        names = [f"{phase}{i}" for i in range(5)]
        if phase == "claim":
            # Stopped, so the files are in incoming/ before it claims them.
            daemon.process.send_signal(signal.SIGSTOP)
            for name in names:
                daemon.drop(name, make(0))
            fill()
            daemon.process.send_signal(signal.SIGCONT)
        else:
            for name in names:
                daemon.drop(name, make(0))
            time.sleep(0.3)
            fill()
        jobs += names
        time.sleep(1.5)
        check(daemon.process.poll() is None, f"gatherd died with the disk full at the {phase}: {daemon.tail()}")
        free()
        check(wait_until(lambda: all(n in daemon.records() for n in names), 60),
              f"{phase}: not every file has a record once space was back: {daemon.names('active')} {daemon.tail()}")
    records = daemon.records()
    check(all(len(records[j]) == 1 for j in jobs), "a file with two records")
    paused = daemon.stderr().count("claiming paused") + daemon.stderr().count("cannot write")
    check(paused > 0, "gatherd never said it could not write")
    daemon.kill(signal.SIGTERM)
    figure("diskfull", f"{len(jobs)} files with the 4 MiB spool full at the claim, while 20 tasks ran, and at "
                       f"the record: every one recorded once after space came back; {paused} pause/write-error "
                       f"lines logged; {time.monotonic() - began:.1f} s")


def journald_running_private() -> str | None:
    """The PID of the journald scripts/test-journald.sh started, if this is it."""
    state = os.environ.get("GATHER_TEST_JOURNALD_STATE", "/run/gatherd-test-journald")
    try:
        with open(os.path.join(state, "pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return str(pid) if alive(pid) else None


def case_journald() -> None:
    """journald stopped and restarted, then killed, while tasks log numbered lines."""
    if journald_running_private() is None:
        raise Skip("no private journald of scripts/test-journald.sh to stop (never the system's own)")
    script = os.path.join(ARGS.root, "scripts", "test-journald.sh")
    work = fresh("journald")
    spool = os.path.join(work, "spool")
    results = []
    for how in ("stop", "kill"):
        daemon = Daemon(spool + "-" + how, cgroup=own_cgroup("journald-" + how), log_target="journal").start()
        job = f"jl-{how}-{os.getpid()}"
        lines, tasks = 300, 4
        talk = f"i=0; while [ $i -lt {lines} ]; do echo {job}-$GATHER_TASK-L$i; i=$((i+1)); sleep 0.01; done"
        daemon.drop(job, {"tasks": [{"name": f"t{n}", "command": sh(talk)} for n in range(tasks)]})
        time.sleep(1.0)
        if how == "stop":
            check(run_reaping([script, "stop"]) == 0, "test-journald.sh stop failed")
            time.sleep(2.0)
            check(run_reaping([script, "start"]) == 0, "test-journald.sh start failed")
        else:
            journald = int(journald_running_private())
            os.kill(journald, signal.SIGKILL)
            wait_until(lambda: not alive(journald), 10)
            time.sleep(1.0)
            run_reaping([script, "stop"])  # the stale sockets go with it
            check(run_reaping([script, "start"]) == 0, "test-journald.sh start failed")
        check(wait_until(lambda: job in daemon.records(), 60), f"{how}: the job did not end: {daemon.tail()}")
        daemon.kill(signal.SIGTERM)
        subprocess.run(["journalctl", "--sync"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        read = subprocess.run(["journalctl", "-o", "cat", "--no-pager", f"GATHER_JOB={job}"],
                              capture_output=True, text=True).stdout
        in_journal = {l for l in read.split() if l.startswith(job + "-")}
        stderr = daemon.stderr()
        expected = {f"{job}-t{n}-L{i}" for n in range(tasks) for i in range(lines)}
        on_stderr = {w for w in expected if w in stderr}
        lost = expected - in_journal - on_stderr
        check(not lost, f"{how}: {len(lost)} lines in neither the journal nor stderr, e.g. {sorted(lost)[:3]}")
        both = len(in_journal & on_stderr)
        results.append(f"journald {'stopped and started' if how == 'stop' else 'killed (SIGKILL)'} while {tasks} tasks wrote {lines} lines each: {len(in_journal)} in the "
                       f"journal, {len(on_stderr - in_journal)} only on stderr, {both} in both, 0 lost")
    for line in results:
        figure("journald", line)


def case_fuzz() -> None:
    """Mutated job files: the validator in process, and 300 of them through the daemon."""
    if not ARGS.fuzz:
        raise Skip("no gather-fuzz binary given")
    work = fresh("fuzz")
    samples, spool = os.path.join(work, "samples"), os.path.join(work, "spool")
    seed = RNG.randrange(2**32)
    began = time.monotonic()
    run = subprocess.run([ARGS.fuzz, "--seed", str(seed), "--count", "10000", "--sample", "300", "--out", samples],
                         capture_output=True, text=True)
    check(run.returncode == 0, f"gather-fuzz (seed {seed}) failed: {run.stdout[-2000:]} {run.stderr[-2000:]}")
    summary = "; ".join(l for l in run.stdout.splitlines()
                        if l.startswith(("inputs:", "invariant violations:", "time:")))
    expected = [json.loads(l) for l in open(os.path.join(samples, "expected.jsonl"))]
    daemon = Daemon(spool, cgroup=own_cgroup("fuzz")).start()
    for sample in expected:
        with open(os.path.join(samples, sample["file"]), "rb") as f:
            data = f.read()
        jid = sample["file"][:-5]
        temporary = os.path.join(spool, "incoming", f".{jid}.tmp")
        with open(temporary, "wb") as f:
            f.write(data)
        os.rename(temporary, os.path.join(spool, "incoming", sample["file"]))
    ids = [s["file"][:-5] for s in expected]
    check(wait_until(lambda: all(j in daemon.records() for j in ids), 120),
          f"not every sample recorded: {len(daemon.records())} of {len(ids)}")
    disagree = []
    for sample, jid in zip(expected, ids):
        record = daemon.record(jid)
        if sample["valid"]:
            if record["state"] == "rejected":
                disagree.append((jid, "valid in process, rejected by the daemon", record.get("error")))
        else:
            if record["state"] != "rejected" or record.get("error") != sample["error"]:
                disagree.append((jid, sample["error"], record.get("error")))
    check(not disagree, f"{len(disagree)} disagree (seed {seed}): {disagree[:3]}")
    check(daemon.process.poll() is None, "gatherd died")
    daemon.kill(signal.SIGTERM)
    valid = sum(1 for s in expected if s["valid"])
    figure("fuzz", f"seed {seed}: {summary}")
    figure("fuzz", f"{len(ids)} samples through the daemon ({valid} valid, {len(ids) - valid} invalid): "
                   f"all agree with the validator in process; {time.monotonic() - began:.1f} s")


CASES = {
    "kill9": case_kill9, "burst": case_burst, "floods": case_floods, "sighup": case_sighup,
    "diskfull": case_diskfull, "journald": case_journald, "fuzz": case_fuzz,
}


def main() -> int:
    global ARGS, RNG
    parser = argparse.ArgumentParser()
    parser.add_argument("--gatherd", required=True)
    parser.add_argument("--gatherctl", required=True)
    parser.add_argument("--fuzz")
    parser.add_argument("--work", required=True)
    parser.add_argument("--root", required=True, help="the project's root (for scripts/)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--only")
    parser.add_argument("--report")
    ARGS = parser.parse_args()
    seed = ARGS.seed if ARGS.seed is not None else random.randrange(2**32)
    RNG = random.Random(seed)
    log(f"fault suite: seed {seed} (replay with --seed {seed})")
    become_subreaper()
    os.makedirs(ARGS.work, exist_ok=True)
    chosen = ARGS.only.split(",") if ARGS.only else list(CASES)
    failed, skipped = [], []
    began = time.monotonic()
    for name in chosen:
        log(f"== {name}: {CASES[name].__doc__}")
        started = time.monotonic()
        try:
            CASES[name]()
            log(f"   ok ({time.monotonic() - started:.1f} s)")
        except Skip as why:
            skipped.append(name)
            log(f"   SKIPPED: {why}")
        except Failure as what:
            failed.append(name)
            log(f"   FAILED: {what}")
        finally:
            while CLEANUPS:
                try:
                    CLEANUPS.pop()()
                except Exception as e:  # cleanup must never hide the result
                    log(f"   cleanup: {e}")
            reap()
    took = time.monotonic() - began
    log(f"fault suite: {len(chosen) - len(failed) - len(skipped)} passed, {len(skipped)} skipped "
        f"{skipped}, {len(failed)} failed {failed}; {took:.0f} s (seed {seed})")
    if ARGS.report:
        with open(ARGS.report, "w") as f:
            json.dump({"seed": seed, "seconds": round(took), "figures": FIGURES,
                       "failed": failed, "skipped": skipped}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
