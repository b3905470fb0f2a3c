"""Running a converter in a confined child process (``core/sandbox.py``), so that no file can
take the worker down or reach past itself.

The child (``python -m commonroom.previews.convert``) limits its own address space
(``COMMONROOM_PREVIEW_MEMORY_MB``, default 1024), CPU time and file sizes, then shuts itself in
(``core/confine.py``: it can read only Python, its libraries and the one file, write only its
output and temporary folders, open no socket of any kind, execute nothing, signal nothing
outside it, and holds no privilege) before it reads the file. The parent gives it a wall-clock
limit (``COMMONROOM_PREVIEW_TIMEOUT``, default 60 s) and kills its whole process group when that
passes; the child is also killed when the thread that started it dies, so a worker killed in
the middle of a preview leaves no converter behind. It works in a folder under the data
directory that the caller gives it (``services.preview_work_root``), and the app sanitises its
HTML again (``html.from_sandbox``).

Whatever happens — a refusal, a crash, a kill, a timeout, nonsense on stdout —
:func:`run_converter` returns an :class:`Outcome` with a sentence for people; it never raises.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from commonroom.core.sandbox import ChildRun, Limits, read_answer, run_child
from commonroom.previews.convert import TEST_CONVERTERS_ENV
from commonroom.previews.converters.base import OutputFile, Result
from commonroom.previews.html import from_sandbox

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # the child's JSON answer
MAX_OUTPUT_FILES = 2_000
MAX_OUTPUT_TOTAL = 512 * 1024 * 1024
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CHILD_MODULE = "commonroom.previews.convert"

TOO_LONG = "The preview took too long to make (over {seconds} seconds) and was stopped."
TOO_MUCH_MEMORY = "The file needs too much memory to preview."
STOPPED = "The preview was stopped: it needed too much time or memory."
CRASHED = "The preview could not be made: the converter stopped unexpectedly."
NO_ANSWER = "The preview could not be made: the converter gave no usable answer."
TOO_LARGE = "The preview is too large to show."


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


def limits(timeout: int) -> Limits:
    return Limits(seconds=timeout, memory_mb=memory_mb(), file_mb=MAX_OUTPUT_TOTAL // (1024 * 1024))


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
    # The format comes from our registry, the paths are ours.
    run = run_child(
        CHILD_MODULE,
        [fmt, str(source), str(outdir)],
        work=outdir.parent,
        limits=limits(limit),
        keep_env=(TEST_CONVERTERS_ENV,),
        max_answer=MAX_ANSWER_BYTES,
    )
    if run.timed_out:
        log.warning("previews: %s (%s) stopped after %s s", source.name, fmt, limit)
        return Outcome(ok=False, message=TOO_LONG.format(seconds=limit))
    if run.code != 0:
        log.warning(
            "previews: child for %s (%s) ended with %s: %s", source.name, fmt, run.code, run.errors
        )
        if run.code == -signal.SIGXCPU:  # the CPU-time limit
            return Outcome(ok=False, message=TOO_LONG.format(seconds=limit))
        if run.code == -signal.SIGKILL:  # the CPU limit's hard kill or the kernel's OOM killer
            return Outcome(ok=False, message=STOPPED)
        return Outcome(ok=False, message=CRASHED)
    return _outcome(run, outdir)


def _read_answer(answer_path: Path, outdir: Path) -> Outcome:
    """The outcome of a child that ended well, from its answer file."""
    return _outcome(read_answer(answer_path, max_answer=MAX_ANSWER_BYTES), outdir)


def _outcome(run: ChildRun, outdir: Path) -> Outcome:
    if run.too_large:
        return Outcome(ok=False, message=TOO_LARGE)
    payload = run.answer
    if payload is None:
        return Outcome(ok=False, message=NO_ANSWER)
    confined = run.confined
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
    revisions = data.get("revisions")
    return Result(
        kind=str(data["kind"])[:20],
        html=from_sandbox(str(data.get("html") or "")),
        text=str(data.get("text") or ""),
        notes=[str(n)[:500] for n in (data.get("notes") or [])][:20],
        files=files,
        page_count=int(page_count) if page_count is not None else None,
        revisions=max(0, int(revisions)) if revisions is not None else None,
    )
