"""The server under test: ``commonroom serve`` (uvicorn, ASGI) in a subprocess, with its own data
directory, and the memory readings of its process from /proc; and a benchmark's own child
process run the same way (:func:`child_figures`), with whether PostgreSQL answers.

The data directory is made under ``BENCH_DIR`` so that it sits on the disk being measured; it is
removed, with every file the run wrote, when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.config import DEFAULT_PG, MIB, REPO, Config, redact

# Variables of the developer's shell that would point the run at their own data or settings.
CLEARED = (
    "DATABASE_URL",
    "COMMONROOM_ENV",
    "COMMONROOM_MEDIA_ROOT",
    "COMMONROOM_STATIC_ROOT",
    "COMMONROOM_UPLOAD_TEMP_DIR",
    "COMMONROOM_STORAGE",
    "COMMONROOM_SITE_URL",
    "EMAIL_HOST",
    "EMAIL_BACKEND",
    "REDIS_URL",
    "COMMONROOM_AUDIT_KEY",
    "COMMONROOM_AUDIT_CHECKPOINTS",
)


def server_environment(config: Config, data_dir: Path, database_url: str) -> dict[str, str]:
    """The environment shared by this process (seeding, query counts) and the server."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "commonroom.settings",
            "COMMONROOM_DATA_DIR": str(data_dir),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "COMMONROOM_DEBUG": "0",
            "COMMONROOM_MFA_REQUIRED": "none",
            # Room for the largest upload of the run, whatever the configured default.
            "COMMONROOM_MAX_UPLOAD_BYTES": str(max(2 * 1024 * MIB, (config.upload_mb + 64) * MIB)),
            "LOG_LEVEL": "WARNING",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def commonroom(env: dict[str, str], *args: str) -> str:
    """Run a ``commonroom`` command to completion; its output, or SystemExit with it."""
    result = subprocess.run(
        [sys.executable, "-m", "commonroom", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"commonroom {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def postgres_answers(url: str) -> bool:
    """Whether a PostgreSQL server answers at ``url`` within three seconds."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:
        return False


def child_figures(
    config: Config, module: str, args: Sequence[str], database_url: str
) -> dict[str, Any]:
    """Run ``python -m module --child *args <figures.json>`` in a throw-away data directory
    (migrated first; ``database_url`` empty for the embedded SQLite) and return the figures it
    wrote there. The directory is removed, with everything the child wrote, however it ends."""
    data_dir = Path(tempfile.mkdtemp(prefix=module.rpartition(".")[2] + "-", dir=config.base_dir))
    try:
        env = server_environment(config, data_dir, database_url)
        commonroom(env, "migrate", "--noinput", "-v", "0")
        out = data_dir / "figures.json"
        subprocess.run(
            [sys.executable, "-m", module, "--child", *args, str(out)],
            env=env,
            cwd=REPO,
            check=True,
        )
        return dict(json.loads(out.read_text()))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def each_database(
    config: Config,
    module: str,
    *,
    labels: tuple[str, str] | None = None,
    only: Sequence[str] = ("sqlite", "postgresql"),
) -> tuple[list[dict[str, Any]], list[str]]:
    """:func:`child_figures` of ``module`` on the embedded SQLite, then on a throw-away
    database of the PostgreSQL server (``BENCH_POSTGRES_URL``, else the local one) if it
    answers: the figures of each run (with ``label`` set from ``labels`` when given) and notes
    on runs skipped. ``only`` names the databases to run on."""
    from bench.run import postgres_database

    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    sqlite_label, postgres_label = labels or ("", "")
    if "sqlite" in only:
        print(f"[{module}] SQLite", flush=True)
        figures = child_figures(config, module, [], "")
        runs.append({"label": sqlite_label, **figures} if labels else figures)
    if "postgresql" in only:
        pg_url = config.postgres_url or DEFAULT_PG
        if postgres_answers(pg_url):
            print(f"[{module}] PostgreSQL at {redact(pg_url)}", flush=True)
            with postgres_database(pg_url) as database_url:
                figures = child_figures(config, module, [], database_url)
            runs.append({"label": postgres_label, **figures} if labels else figures)
        else:
            notes.append(f"PostgreSQL at {redact(pg_url)} did not answer: its run was skipped.")
    return runs, notes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(stat_path: str) -> float:
    try:
        stat = Path(stat_path).read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """``commonroom serve --no-worker`` on a free loopback port (``worker``: with its embedded
    worker, as ``make run`` serves)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, worker: bool = False) -> None:
        self.env = env
        self.log_path = log_path
        self.worker = worker
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "commonroom", "serve", "--port", str(self.port)),
                *(() if self.worker else ("--no-worker",)),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited at start; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer /healthz within 60 s; see {self.log_path}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    # --- Memory of the server process ----------------------------------------------------------

    def rss_kib(self) -> int:
        return _status_kib(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        return _cpu_seconds(f"/proc/{self.pid}/stat")

    def loop_cpu_seconds(self) -> float:
        """The same for the server's main thread alone: uvicorn's event loop (the rest of the
        process's time is its other threads', such as the one a sync view runs in)."""
        return _cpu_seconds(f"/proc/{self.pid}/task/{self.pid}/stat")

    def peak_kib(self) -> int:
        """The process's peak resident memory so far (VmHWM)."""
        return _status_kib(self.pid, "VmHWM")

    def reset_peak(self) -> bool:
        """Start a new peak from the current resident size (Linux ``clear_refs`` 5)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    @contextlib.contextmanager
    def sampling_rss(self, interval: float = 0.02) -> Iterator[RssSampler]:
        sampler = RssSampler(self.pid, interval)
        sampler.start()
        try:
            yield sampler
        finally:
            sampler.stop()


class RssSampler(threading.Thread):
    """Reads the server's resident size every ``interval`` seconds and keeps the largest."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.max_kib = _status_kib(pid, "VmRSS")
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.max_kib = max(self.max_kib, _status_kib(self.pid, "VmRSS"))
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)
        self.max_kib = max(self.max_kib, _status_kib(self.pid, "VmRSS"))
