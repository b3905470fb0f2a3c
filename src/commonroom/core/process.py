"""Hardening of the server's own processes, and how they tell whether another is alive.

Nothing here imports Django: the preview child uses :func:`die_with_parent` before it starts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from pathlib import Path

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def not_dumpable() -> bool:
    """Make this process non-dumpable (Linux): another process of the same user, such as a
    preview child taken over by a hostile file, can then no longer read this one's memory or
    environment (``SECRET_KEY``, ``DATABASE_URL``) through /proc. Returns whether it is so."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        return int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
# Set by ``commonroom serve`` in the environment of the processes it starts (the task worker,
# uvicorn's worker processes): serve's pid, and the signal the child wants when serve dies
# ("<pid>" for SIGTERM, "<pid>:<signal>"). See :func:`stop_with_serve`.
SERVE_PID_ENV = "COMMONROOM_SERVE_PID"


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent (the thread that started
    it, in ``parent_pid``) ends, however it ends. If the parent has already gone by the time the
    request is made, this process exits at once (nobody is left to wait for it). Returns
    whether the request was made (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # it died before the request: the signal will never come
        os._exit(0)
    return True


def stop_with_serve() -> bool:
    """In a process ``commonroom serve`` started (its pid is in ``COMMONROOM_SERVE_PID``): be
    stopped when serve dies, even by SIGKILL, so a killed serve leaves nothing behind and its
    restart never runs two workers. uvicorn's workers get SIGTERM (they stop listening at once
    and finish the requests in hand); the task worker asks for SIGKILL (its task goes back to
    the queue, ``core.services``). The variable is removed from this process's environment, so
    its own children do not take serve for their parent. Returns whether this process is now
    tied to serve."""
    value = os.environ.pop(SERVE_PID_ENV, None) or ""
    pid, _, sig = value.partition(":")
    if not pid.isdigit() or not (sig or "15").isdigit():
        return False
    return die_with_parent(int(pid), int(sig or signal.SIGTERM))


def process_started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``), or
    ``None`` when there is no such process (or it is a zombie). With the pid it names one
    process: a pid reused later belongs to a process started later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in {"Z", "X"}:
        return None
    return int(fields[19])  # field 22 of stat; the fields after ")" start at field 3


def is_running(pid: int, started: int) -> bool:
    """Whether the process ``pid`` that started at ``started`` (see :func:`process_started`)
    is still running on this machine."""
    return process_started(pid) == started


def machine() -> str:
    """Names the space in which this process's pids mean something: the host, its boot and
    the pid namespace (two containers on one host have the same boot but their own pids). Two
    processes with the same value can check each other with :func:`is_running`."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: no process can vouch for another
        return f"{socket.gethostname()}:{os.getpid()}"
    return f"{socket.gethostname()}:{boot}:{namespace}"[:200]
