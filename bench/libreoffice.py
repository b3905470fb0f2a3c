"""LibreOffice as the benchmarks' reference: found (waiting while it is being installed), its
version, and ``soffice --headless --convert-to`` timed, a fresh profile each run (start-up and
first-run profile included, as for a converter started per file) or one profile kept and
warmed by a first run that is not counted. ``bench.previews`` and ``bench.amend`` time it
beside their own figures; :class:`Timed` holds the seconds of any timed runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SOFFICE_WAIT = float(os.environ.get("BENCH_SOFFICE_WAIT", "") or 240)  # seconds
SOFFICE_TIMEOUT = 900


@dataclass
class Timed:
    """The seconds of each run, or what went wrong (then there is no median)."""

    seconds: list[float]
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds and not self.error else None


def soffice_path(say: Callable[[str], None] = print) -> str | None:
    """``soffice`` (or ``libreoffice``) on the PATH, waiting up to ``BENCH_SOFFICE_WAIT`` seconds
    for /usr/bin/soffice when it is being installed."""
    deadline = time.monotonic() + SOFFICE_WAIT
    while True:
        found = shutil.which("soffice") or shutil.which("libreoffice")
        if found or time.monotonic() > deadline or not _installing():
            return found
        say("waiting for LibreOffice to be installed")
        time.sleep(10)


def _installing() -> bool:
    """An apt or dpkg process is running (LibreOffice may be on its way)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                name = (proc / "comm").read_text().strip()
            except OSError:
                continue
            if name in {"apt", "apt-get", "dpkg"}:
                return True
    return False


def soffice_version(soffice: str) -> str:
    result = subprocess.run(
        [soffice, "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else "unknown version"


def soffice_convert(
    soffice: str,
    source: Path,
    to: str,
    work: Path,
    infilter: str = "",
    *,
    profile: Path | None = None,
) -> tuple[float, Path | None, str]:
    """One ``soffice --headless --convert-to`` of ``source``: (seconds, output, error). A fresh
    profile (removed after), or ``profile`` (kept by the caller, used again)."""
    fresh = profile is None
    used = Path(tempfile.mkdtemp(prefix="lo-profile-", dir=work)) if profile is None else profile
    outdir = Path(tempfile.mkdtemp(prefix="lo-out-", dir=work))
    command = [
        soffice,
        f"-env:UserInstallation={used.as_uri()}",
        "--headless",
        "--norestore",
        *([f"--infilter={infilter}"] if infilter else []),
        "--convert-to",
        to,
        "--outdir",
        str(outdir),
        str(source),
    ]
    started = time.perf_counter()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None, f"no answer in {SOFFICE_TIMEOUT} s"
    seconds = time.perf_counter() - started
    if fresh:
        shutil.rmtree(used, ignore_errors=True)
    made = sorted(
        p for p in outdir.iterdir() if p.suffix == "." + to.split(":")[0] and p.stat().st_size
    )
    if result.returncode != 0 or not made:
        said_lines = (result.stderr or result.stdout).strip().splitlines()
        said = said_lines[-1].strip()[:200] if said_lines else ""
        return seconds, None, f"exit {result.returncode}, no output ({said or 'nothing said'})"
    return seconds, made[0], ""


def soffice_times(
    soffice: str,
    source: Path,
    to: str,
    work: Path,
    *,
    runs: int,
    kept: bool = False,
    infilter: str = "",
    say: Callable[[str], None] = print,
) -> Timed:
    """``runs`` conversions of ``source`` to ``to``, each timed: a fresh profile each time, or
    (``kept``) one profile, made and warmed by a first run that is not counted."""
    profile = Path(tempfile.mkdtemp(prefix="lo-kept-", dir=work)) if kept else None
    timed = Timed([])
    how = "kept" if kept else "fresh"
    for n in range(runs + (1 if kept else 0)):
        seconds, _, error = soffice_convert(soffice, source, to, work, infilter, profile=profile)
        label = "warm-up" if kept and n == 0 else f"run {n + (0 if kept else 1)}"
        say(
            f"  LibreOffice {source.name} -> {to} ({how} profile), {label}: {seconds:.2f} s {error}"
        )
        if error:
            return Timed(timed.seconds, error)
        if not (kept and n == 0):
            timed.seconds.append(seconds)
    return timed
