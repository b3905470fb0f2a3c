"""A real, small, full disk for tests: a tmpfs mounted (as root) on a temporary folder.

Mounting needs root (or CAP_SYS_ADMIN). Where it is impossible the test is skipped with a loud
reason, and with CI=true that is a failure: the full-disk behaviour must be proved somewhere.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB mounted on a new folder, unmounted afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="commonroom-small-disk-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if result.returncode != 0:
        mount_point.rmdir()
        message = (
            f"!!! cannot mount a tmpfs ({result.stderr.strip() or result.returncode}): "
            "the real full-disk test is SKIPPED !!!"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a full-disk test that cannot run is a failure. {message}")
        pytest.skip(message)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=10)
        mount_point.rmdir()


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Fill ``disk`` with one file until no more than ``leave_bytes`` are free; returns it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        while True:
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            step = min(256 * 1024, free - leave_bytes)
            if step <= 0:
                break
            try:
                out.write(b"\0" * step)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (relative names), sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
