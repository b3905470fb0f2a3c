"""Running work on an untrusted file in a confined child process, so that no file can take the
server down or reach past itself. Previews' converters (``previews/sandbox.py``), the version
stamp of a download (``documents/stamping.py``) and a Word file written with suggestions as
tracked changes (``suggestions/tracked.py``) run through :func:`run_child`.

The child (``python -m <module> <args>``, which calls ``core.sandbox_child.serve``) limits its
own address space, CPU time and file sizes, then shuts itself in (``confine.py``: it can read
only Python, its libraries and the files it was given, write only its output and temporary
folders, open no socket of any kind, execute nothing, signal nothing outside it, and holds no
privilege) before it reads the file. The parent gives it a wall-clock limit and kills its whole
process group when that passes; the child is also killed when the thread that started it dies
(``PR_SET_PDEATHSIG``), so a process killed in the middle leaves no child behind. Its environment
holds nothing secret (only the variables named here), and the server's processes are
non-dumpable (``core.process``). The child answers with one JSON object on its standard output;
what it means is the caller's business: :func:`run_child` only says how the child ended, what it
answered, and which confinement layers it applied.

Where the kernel lacks a layer (Landlock needs Linux 5.13; elsewhere only the limits apply), the
parent logs which, once per process; with ``COMMONROOM_PREVIEW_CONFINE=required`` (the setting
governs every confined child) the child then refuses its work instead. Nothing here imports a
domain app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

import commonroom
from commonroom.core.confine import LAYERS
from commonroom.core.sandbox_child import CONFINE_ENV, CPU_ENV, FILE_ENV, MEMORY_ENV

log = logging.getLogger(__name__)

# Passed on to the child; everything else in the server's environment stays behind.
ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ")

# The child's first act: be killed with the thread that started it (the child is in a session
# of its own, so nothing else would), then run the module as ``python -m`` would. ``-P``: the
# work folder (the child's current folder, which holds the file) is not searched for modules.
CHILD = (
    "import sys\n"
    "from commonroom.core.process import die_with_parent\n"
    "die_with_parent(int(sys.argv.pop(1)), 9)\n"
    "import runpy\n"
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)\n"
)


@dataclass(frozen=True)
class Limits:
    """What one child may use: wall-clock seconds (the CPU limit is one more), address space,
    and the size of any file it writes."""

    seconds: int
    memory_mb: int
    file_mb: int


@dataclass
class ChildRun:
    """How a child ended. ``code`` is its exit status (negative: the signal that ended it),
    ``None`` when it was stopped at the wall-clock limit. ``answer`` is its JSON object, or
    ``None`` when it gave none that is usable (not JSON, not an object, over the size limit:
    ``too_large``). ``errors`` is the end of what it wrote on stderr when it failed."""

    code: int | None
    answer: dict[str, Any] | None = None
    confined: list[str] = field(default_factory=list)
    errors: str = ""
    too_large: bool = False

    @property
    def timed_out(self) -> bool:
        return self.code is None


def confine_mode() -> str:
    mode = str(getattr(settings, "COMMONROOM_PREVIEW_CONFINE", "best-effort"))
    return "required" if mode == "required" else "best-effort"


def child_env(limits: Limits, tmp: Path, keep: Sequence[str] = ()) -> dict[str, str]:
    """The child's whole environment: a few harmless variables, its limits, its confinement
    mode, and ``TMPDIR`` (its own folder, the one place besides its output it may write)."""
    env = {k: os.environ[k] for k in (*ENV_KEEP, *keep) if k in os.environ}
    env["TMPDIR"] = str(tmp)
    env[CONFINE_ENV] = confine_mode()
    env["PYTHONPATH"] = str(Path(commonroom.__file__).resolve().parents[1])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[MEMORY_ENV] = str(limits.memory_mb)
    env[CPU_ENV] = str(limits.seconds + 1)
    env[FILE_ENV] = str(limits.file_mb)
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own group (start_new_session)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - the kernel has not reaped it yet
        log.error("sandbox: child %s did not die after SIGKILL", proc.pid)


def _tail(path: Path, size: int = 4000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_child(
    module: str,
    args: Sequence[str],
    *,
    work: Path,
    limits: Limits,
    keep_env: Sequence[str] = (),
    max_answer: int = 1024 * 1024,
) -> ChildRun:
    """Run ``python -m module args...`` confined, in ``work`` (a folder the caller owns, which
    gets ``answer.json``, ``errors.log`` and the child's ``tmp/``), and wait at most
    ``limits.seconds``. ``module`` and ``args`` are the caller's own (no shell is involved).
    Raises only what starting a process may raise (``OSError``); callers that must never fail
    catch it."""
    answer_path = work / "answer.json"
    errors_path = work / "errors.log"
    tmp = work / "tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    with answer_path.open("wb") as answer, errors_path.open("wb") as errors:
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, our module, our paths
            [sys.executable, "-P", "-c", CHILD, str(os.getpid()), module, *args],
            stdin=subprocess.DEVNULL,
            stdout=answer,
            stderr=errors,
            cwd=str(work),
            env=child_env(limits, tmp, keep_env),
            start_new_session=True,
            close_fds=True,
        )
        try:
            code = proc.wait(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return ChildRun(code=None)
        except BaseException:
            _kill_group(proc)
            raise
    if code != 0:
        return ChildRun(code=code, errors=_tail(errors_path))
    return read_answer(answer_path, max_answer=max_answer, errors_path=errors_path)


def read_answer(answer_path: Path, *, max_answer: int, errors_path: Path | None = None) -> ChildRun:
    """What a child that ended well answered: its JSON object and the layers it applied."""
    errors = _tail(errors_path) if errors_path is not None else ""
    if answer_path.stat().st_size > max_answer:
        return ChildRun(code=0, too_large=True, errors=errors)
    try:
        payload: Any = json.loads(answer_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ChildRun(code=0, errors=errors)
    if not isinstance(payload, dict):
        return ChildRun(code=0, errors=errors)
    return ChildRun(code=0, answer=payload, confined=confinement(payload.get("confined")))


_told_missing: set[str] = set()


def confinement(value: object) -> list[str]:
    """The layers a child says it applied; a missing one is logged once per process."""
    confined = [str(v) for v in value] if isinstance(value, list) else []
    have = set(confined)
    if "seccomp-local-socket" in have:  # the narrower filter a child given a socket has
        have.add("seccomp-network")
    missing = [layer for layer in LAYERS if layer not in have]
    if missing and not _told_missing.issuperset(missing):
        _told_missing.update(missing)
        log.warning(
            "sandbox: confined children run without %s (the kernel does not offer it); "
            "work taken over by a hostile file is held back less",
            ", ".join(missing),
        )
    return confined
