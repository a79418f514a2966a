"""Starting gatherd as systemd would (Type=notify), for the Python drivers of
the benchmarks (Benchmarks/compare) and the fault suite (Faults)."""
from __future__ import annotations

import os
import socket
import subprocess
import time


def tail(path: str, size: int = 3000) -> str:
    """The last bytes of a file (gatherd's stderr), as text."""
    try:
        with open(path, "rb") as f:
            return f.read()[-size:].decode(errors="replace")
    except OSError:
        return ""


def start_ready(command: list[str], env: dict[str, str], stderr_path: str, notify_path: str,
                wait: bool = True, timeout: float = 60, started=None) -> subprocess.Popen:
    """Starts `command` with NOTIFY_SOCKET on a datagram socket of our own at
    `notify_path`, its output appended to `stderr_path`, and returns once it
    sent READY=1 (SPEC §9) — at once with `wait` false. `started` is called
    with the process as soon as it runs (to register its cleanup).
    Raises RuntimeError with the stderr's tail when it exits or is not ready in time."""
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    try:
        with open(stderr_path, "ab") as err:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                       env=dict(env, NOTIFY_SOCKET=notify_path), close_fds=True)
        if started:
            started(process)
        deadline = time.monotonic() + timeout
        while wait:
            left = deadline - time.monotonic()
            if left <= 0 or process.poll() is not None:
                raise RuntimeError(f"gatherd did not become ready: {tail(stderr_path)}")
            notify.settimeout(min(left, 0.5))
            try:
                if b"READY=1" in notify.recv(4096):
                    break
            except socket.timeout:
                pass
    finally:
        notify.close()
        os.unlink(notify_path)
    return process
