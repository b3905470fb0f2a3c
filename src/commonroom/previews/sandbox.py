"""Running a converter in a child process, so that no file can take the worker down or reach
past itself.

The child (``python -m commonroom.previews.convert``) limits its own address space
(``COMMONROOM_PREVIEW_MEMORY_MB``, default 1024), CPU time and file sizes, then shuts itself in
(``confine.py``: it can read only Python, its libraries and the one file, write only its output
and temporary folders, open no socket of any kind, execute nothing, signal nothing outside it,
and holds no privilege) before it reads the file. The parent gives it a wall-clock limit
(``COMMONROOM_PREVIEW_TIMEOUT``, default 60 s) and kills its whole process group when that
passes. Its environment holds nothing secret, the server's processes are non-dumpable
(``core.process``), and the app sanitises its HTML again (``html.from_sandbox``).

Where the kernel lacks a layer (Landlock needs Linux 5.13; elsewhere only the limits apply), the
parent logs which, once per process; with ``COMMONROOM_PREVIEW_CONFINE=required`` the child
then refuses to convert instead. Whatever happens — a refusal, a crash, a kill, a timeout,
nonsense on stdout — :func:`run_converter` returns an :class:`Outcome` with a sentence for
people; it never raises.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

import commonroom
from commonroom.previews.confine import LAYERS
from commonroom.previews.convert import CONFINE_ENV
from commonroom.previews.converters.base import OutputFile, Result
from commonroom.previews.html import from_sandbox

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # the child's JSON answer
MAX_OUTPUT_FILES = 2_000
MAX_OUTPUT_TOTAL = 512 * 1024 * 1024
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Passed on to the child; everything else in the worker's environment stays behind.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "COMMONROOM_PREVIEW_TEST_CONVERTERS")

TOO_LONG = "The preview took too long to make (over {seconds} seconds) and was stopped."
TOO_MUCH_MEMORY = "The file needs too much memory to preview."
STOPPED = "The preview was stopped: it needed too much time or memory."
CRASHED = "The preview could not be made: the converter stopped unexpectedly."
NO_ANSWER = "The preview could not be made: the converter gave no usable answer."


@dataclass
class Outcome:
    ok: bool
    result: Result | None = None
    message: str = ""
    seconds: float = 0.0
    confined: list[str] = field(default_factory=list)


def timeout_seconds() -> int:
    return int(getattr(settings, "COMMONROOM_PREVIEW_TIMEOUT", 60))


def memory_mb() -> int:
    return int(getattr(settings, "COMMONROOM_PREVIEW_MEMORY_MB", 1024))


def confine_mode() -> str:
    mode = str(getattr(settings, "COMMONROOM_PREVIEW_CONFINE", "best-effort"))
    return "required" if mode == "required" else "best-effort"


def _child_env(timeout: int, tmp: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env["TMPDIR"] = str(tmp)  # the child's own, the one place besides its output it may write
    env[CONFINE_ENV] = confine_mode()
    package_root = str(Path(commonroom.__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_root
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COMMONROOM_PREVIEW_MEMORY_MB"] = str(memory_mb())
    env["COMMONROOM_PREVIEW_CPU_SECONDS"] = str(timeout + 1)
    env["COMMONROOM_PREVIEW_FILE_MB"] = str(MAX_OUTPUT_TOTAL // (1024 * 1024))
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own group (start_new_session)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - the kernel has not reaped it yet
        log.error("previews: child %s did not die after SIGKILL", proc.pid)


def _tail(path: Path, size: int = 4000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_converter(fmt: str, source: Path, outdir: Path, *, timeout: int | None = None) -> Outcome:
    """Convert ``source`` as ``fmt`` in a limited child, its files written into ``outdir`` (an
    empty folder the caller owns). Never raises."""
    started = time.monotonic()
    limit = timeout if timeout is not None else timeout_seconds()
    try:
        outcome = _run(fmt, source, outdir, limit)
    except Exception:  # never into the worker
        log.exception("previews: the sandbox failed for %s", source)
        outcome = Outcome(ok=False, message=CRASHED)
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def _run(fmt: str, source: Path, outdir: Path, limit: int) -> Outcome:
    work = outdir.parent
    answer_path = work / "answer.json"
    errors_path = work / "errors.log"
    tmp = work / "tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    with answer_path.open("wb") as answer, errors_path.open("wb") as errors:
        # The format comes from our registry, the paths are ours; no shell.
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "commonroom.previews.convert", fmt, str(source), str(outdir)],
            stdin=subprocess.DEVNULL,
            stdout=answer,
            stderr=errors,
            cwd=str(work),
            env=_child_env(limit, tmp),
            start_new_session=True,
            close_fds=True,
        )
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log.warning("previews: %s (%s) stopped after %s s", source.name, fmt, limit)
            return Outcome(ok=False, message=TOO_LONG.format(seconds=limit))
        except BaseException:
            _kill_group(proc)
            raise
    if code != 0:
        log.warning(
            "previews: child for %s (%s) ended with %s: %s",
            source.name,
            fmt,
            code,
            _tail(errors_path),
        )
        if code == -signal.SIGXCPU:  # the CPU-time limit
            return Outcome(ok=False, message=TOO_LONG.format(seconds=limit))
        if code == -signal.SIGKILL:  # the CPU limit's hard kill or the kernel's OOM killer
            return Outcome(ok=False, message=STOPPED)
        return Outcome(ok=False, message=CRASHED)
    return _read_answer(answer_path, outdir)


def _read_answer(answer_path: Path, outdir: Path) -> Outcome:
    if answer_path.stat().st_size > MAX_ANSWER_BYTES:
        return Outcome(ok=False, message="The preview is too large to show.")
    try:
        payload: Any = json.loads(answer_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return Outcome(ok=False, message=NO_ANSWER)
    if not isinstance(payload, dict):
        return Outcome(ok=False, message=NO_ANSWER)
    confined = _confinement(payload.get("confined"))
    if not payload.get("ok"):
        if payload.get("missing"):
            log.error(
                "previews: refused to convert, COMMONROOM_PREVIEW_CONFINE=required and the "
                "kernel did not apply %s",
                ", ".join(map(str, payload["missing"])),
            )
        message = str(payload.get("message") or NO_ANSWER)[:1000]
        return Outcome(ok=False, message=message, confined=confined)
    try:
        result = _result_from(payload["result"], outdir)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("previews: unusable answer: %s", exc)
        return Outcome(ok=False, message=NO_ANSWER, confined=confined)
    return Outcome(ok=True, result=result, confined=confined)


_told_missing: set[str] = set()


def _confinement(value: object) -> list[str]:
    """The layers the child says it applied; a missing one is logged once per process."""
    confined = [str(v) for v in value] if isinstance(value, list) else []
    missing = [layer for layer in LAYERS if layer not in confined]
    if missing and not _told_missing.issuperset(missing):
        _told_missing.update(missing)
        log.warning(
            "previews: the preview child runs without %s (the kernel does not offer it); "
            "a converter taken over by a hostile file is held back less",
            ", ".join(missing),
        )
    return confined


def _result_from(data: dict[str, Any], outdir: Path) -> Result:
    """A :class:`Result` rebuilt from the child's JSON, its files checked: simple names, regular
    files inside ``outdir`` (no links), few enough and small enough."""
    files: list[OutputFile] = []
    total = 0
    seen: set[str] = set()
    for item in data.get("files") or []:
        name, content_type = str(item["name"]), str(item["content_type"])
        if not FILE_NAME.match(name) or name in seen:
            raise ValueError(f"bad output file name {name!r}")
        path = outdir / name
        if path.is_symlink() or not path.is_file():
            raise ValueError(f"output file {name!r} is missing or not a file")
        total += path.stat().st_size
        seen.add(name)
        files.append(OutputFile(name=name, content_type=content_type[:100]))
    if len(files) > MAX_OUTPUT_FILES or total > MAX_OUTPUT_TOTAL:
        raise ValueError("too many or too large output files")
    page_count = data.get("page_count")
    return Result(
        kind=str(data["kind"])[:20],
        html=from_sandbox(str(data.get("html") or "")),
        text=str(data.get("text") or ""),
        notes=[str(n)[:500] for n in (data.get("notes") or [])][:20],
        files=files,
        page_count=int(page_count) if page_count is not None else None,
    )
