"""The machine, the commit and the disk a run measured: printed beside every figure."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.config import REPO


@dataclass(frozen=True)
class Machine:
    date: str
    cpus: int
    cpu_model: str
    ram_gib: float
    kernel: str
    python: str
    commit: str
    load_start: str

    def describe(self) -> str:
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.ram_gib:.1f} GiB RAM, Linux {self.kernel}"
        )


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def ram_gib() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def git_commit() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    sha = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return f"{sha} with uncommitted changes" if git("status", "--porcelain") else sha


def machine() -> Machine:
    return Machine(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=cpu_model(),
        ram_gib=ram_gib(),
        kernel=platform.release(),
        python=platform.python_version(),
        commit=git_commit(),
        load_start=load_average(),
    )


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def same_filesystem(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def filesystem_of(path: Path) -> str:
    """The device and type of the filesystem holding ``path``, from /proc/mounts."""
    best = ("", "?", "?")
    resolved = str(path.resolve())
    for line in _read("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mount, fstype = fields[0], fields[1], fields[2]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[0]):
            best = (mount, device, fstype)
    return f"{best[1]} ({best[2]}, mounted on {best[0] or '?'})"
