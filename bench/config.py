"""What a benchmark run measures and how big it is, read from the environment.

``BENCH_UPLOAD_MB`` (default 1024) size of the uploaded file in MiB;
``BENCH_UPLOAD_ROUNDS`` (3) how many times the upload runs, each between two ``dd`` runs of the
same size (``dd``, upload, ``dd``, upload, ..., ``dd``): each upload is set against the two
``dd`` runs either side of it, and the median of those ratios is the figure;
``BENCH_DOCS`` (10000) documents in the page benchmark, each with ``BENCH_VERSIONS`` (5) versions;
``BENCH_PAGES`` (1) ``0`` to measure the upload alone, without seeding or loading the pages;
``BENCH_SECONDS`` (15) seconds of load per page and connection count;
``BENCH_CONNECTIONS`` ("1,8") concurrent connections the load generator keeps open;
``BENCH_LOADGEN`` ("auto") ``wrk`` or ``python`` (auto: wrk when installed);
``BENCH_DIR`` (the repository's ``var/``) where the temporary data directory is made: it must be
on the disk being measured; ``BENCH_POSTGRES_URL`` (unset) a PostgreSQL server URL to run against
instead of the embedded SQLite (a throw-away database is created on it and dropped afterwards);
``BENCH_OUTPUT`` (docs/benchmarks.md) the Markdown file the figures go to, ``-`` for none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
# The PostgreSQL server a benchmark uses when BENCH_POSTGRES_URL is not set.
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


def redact(url: str) -> str:
    """A database URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Config:
    upload_mb: int
    upload_rounds: int
    pages: bool
    docs: int
    versions: int
    seconds: float
    connections: tuple[int, ...]
    loadgen: str
    base_dir: Path
    postgres_url: str
    output: Path | None

    @property
    def warmup_upload_mb(self) -> int:
        """A small upload first: it warms the server up and gives memory a baseline."""
        return max(1, min(64, self.upload_mb // 16))

    @classmethod
    def from_env(cls) -> Config:
        connections = tuple(
            int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,8").split(",") if c.strip()
        )
        output_raw = os.environ.get("BENCH_OUTPUT", str(REPO / "docs" / "benchmarks.md"))
        loadgen = os.environ.get("BENCH_LOADGEN", "auto").strip() or "auto"
        if loadgen not in {"auto", "wrk", "python"}:
            raise SystemExit("BENCH_LOADGEN must be auto, wrk or python")
        return cls(
            upload_mb=_int("BENCH_UPLOAD_MB", 1024),
            upload_rounds=max(1, _int("BENCH_UPLOAD_ROUNDS", 3)),
            pages=os.environ.get("BENCH_PAGES", "1").strip() != "0",
            docs=_int("BENCH_DOCS", 10_000),
            versions=max(1, _int("BENCH_VERSIONS", 5)),
            seconds=float(os.environ.get("BENCH_SECONDS", "") or 15),
            connections=connections or (1, 8),
            loadgen=loadgen,
            base_dir=Path(os.environ.get("BENCH_DIR", "") or REPO / "var"),
            postgres_url=os.environ.get("BENCH_POSTGRES_URL", "").strip(),
            output=None if output_raw.strip() == "-" else Path(output_raw),
        )

    def command(self) -> str:
        """The command that reproduces this run."""
        defaults = {
            "BENCH_UPLOAD_MB": ("1024", str(self.upload_mb)),
            "BENCH_UPLOAD_ROUNDS": ("3", str(self.upload_rounds)),
            "BENCH_DOCS": ("10000", str(self.docs)),
            "BENCH_VERSIONS": ("5", str(self.versions)),
            "BENCH_SECONDS": ("15", f"{self.seconds:g}"),
            "BENCH_CONNECTIONS": ("1,8", ",".join(str(c) for c in self.connections)),
        }
        parts = [f"{k}={v}" for k, (default, v) in defaults.items() if v != default]
        if not self.pages:
            parts.insert(0, "BENCH_PAGES=0")
        if self.loadgen != "auto":
            parts.append(f"BENCH_LOADGEN={self.loadgen}")
        if self.postgres_url:
            parts.append(f"BENCH_POSTGRES_URL={redact(self.postgres_url)}")
        return " ".join([*parts, "make bench"])
