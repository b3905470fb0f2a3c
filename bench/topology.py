"""The production topology for a benchmark: ``scripts/topology.sh up`` in a throw-away folder, on
free ports, with a throw-away PostgreSQL database on the machine's server and a Redis key
prefix of its own (nginx in front of two ``commonroom serve --no-worker``, two workers, moto's
S3), stopped and cleaned up however the run ends; and what a benchmark reads of its processes
(CPU time, peak memory, each app process's /metrics).

Shared by :mod:`bench.topology_load` and :mod:`bench.topology_throughput`, so that both measure
the same topology, brought up and taken down the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.config import REPO, redact
from bench.server import _cpu_seconds, free_port, postgres_answers

SCRIPT = REPO / "scripts" / "topology.sh"
APP_PROCESSES = ("web1", "web2")


@dataclass(frozen=True)
class Topology:
    url: str  # nginx, the public door
    app_urls: tuple[str, ...]  # each `commonroom serve`, on its own port (web1, web2)
    s3_url: str
    env: dict[str, str]  # the environment of its processes, for a child that seeds it
    folder: Path
    database: str

    @property
    def run_dir(self) -> Path:
        """Where scripts/topology.sh keeps its pid files ("pid starttime")."""
        return self.folder / "run"

    def pid(self, name: str) -> int | None:
        try:
            return int((self.run_dir / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def unavailable(pg_url: str) -> str | None:
    """Why the topology cannot be brought up on this machine (a sentence for the report), or
    None when it can."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed: the topology was not measured (`make nginx`)."
    if not postgres_answers(pg_url):
        return f"PostgreSQL at {redact(pg_url)} did not answer: topology skipped."
    return None


@contextlib.contextmanager
def topology(
    base: Path, pg_url: str, prefix: str, environment: dict[str, str] | None = None
) -> Iterator[Topology]:
    """The topology up in ``base/topology`` on free ports, with a database ``<prefix>_<random>``
    on the PostgreSQL server at ``pg_url``; stopped at the end, however the run ends, and the
    database dropped with the Redis keys under its name. ``environment``: settings for its
    processes beyond those scripts/topology.sh writes (they inherit the script's environment);
    ``BENCH_TOPOLOGY_LOGS``, a folder to copy its logs into before they are removed."""
    folder = base / "topology"
    database = f"{prefix}_{secrets.token_hex(4)}"
    ports = [free_port() for _ in range(4)]
    env = {
        **os.environ,
        "TOPOLOGY_DIR": str(folder),
        "TOPOLOGY_PYTHON": sys.executable,
        "TOPOLOGY_HTTP_PORT": str(ports[0]),
        "TOPOLOGY_APP_PORTS": f"{ports[1]} {ports[2]}",
        "TOPOLOGY_S3_PORT": str(ports[3]),
        "TOPOLOGY_DATABASE": database,
        "TOPOLOGY_PREFIX": database,
        "TOPOLOGY_DEMO": "0",
        **(environment or {}),
    }
    try:
        subprocess.run(["bash", str(SCRIPT), "up"], env=env, check=True, stdout=subprocess.DEVNULL)
        # The environment of the topology's processes, for seeding.
        seed_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        for line in (folder / "commonroom.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                seed_env[key] = value
        seed_env["COMMONROOM_DATA_DIR"] = str(folder / "seed")
        seed_env["COMMONROOM_MFA_REQUIRED"] = "none"
        seed_env["DJANGO_SETTINGS_MODULE"] = "commonroom.settings"
        yield Topology(
            url=f"http://127.0.0.1:{ports[0]}",
            app_urls=(f"http://127.0.0.1:{ports[1]}", f"http://127.0.0.1:{ports[2]}"),
            s3_url=f"http://127.0.0.1:{ports[3]}",
            env=seed_env,
            folder=folder,
            database=database,
        )
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "down"], env=env, check=False, stdout=subprocess.DEVNULL
        )
        keep = os.environ.get("BENCH_TOPOLOGY_LOGS", "").strip()
        if keep:
            for logs in (folder / "log", folder / "nginx" / "logs"):
                if logs.is_dir():
                    target = Path(keep) / logs.relative_to(folder)
                    shutil.copytree(logs, target, dirs_exist_ok=True)
        drop_database(pg_url, database)
        redis_url = f"redis://{os.environ.get('TOPOLOGY_REDIS', '127.0.0.1:6379')}/0"
        drop_redis_keys(os.environ.get("BENCH_REDIS_URL", redis_url), database)


def drop_redis_keys(redis_url: str, prefix: str) -> None:
    """The keys the topology left in the machine's Redis (rate limits, sign-in back-off, the
    channel layer's), all under its own prefix."""
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)


def drop_database(pg_url: str, name: str) -> None:
    import psycopg

    with contextlib.suppress(Exception), psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def raise_open_files(wanted: int) -> int:
    """This process's limit on open files raised towards ``wanted`` (never past the hard limit),
    before the topology starts so that its processes inherit it: each socket is a descriptor
    here and another in an app process. The soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        soft = ceiling
    return int(soft)


# --- What is read of the processes ------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def command_of(pid: int) -> str:
    """A short name for a process: its program and first argument or two."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    shown = [Path(words[0].decode(errors="replace")).name]
    shown += [w.decode(errors="replace") for w in words[1:4] if w and not w.startswith(b"/")]
    return " ".join(shown)[:60]


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def peaks(run_dir: Path) -> list[tuple[str, int]]:
    """Each topology process's peak resident memory (KiB), with its children (nginx's
    workers), from the pid files ("pid starttime") that scripts/topology.sh writes."""
    found = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        pid = int(pid_file.read_text().split()[0])
        found.append((pid_file.stem, status_kib(pid, "VmHWM")))
        for kid in children_of(pid):
            found.append((f"{pid_file.stem}: child `{command_of(kid)}`", status_kib(kid, "VmHWM")))
    return found


def cpu_seconds(run_dir: Path) -> dict[str, float]:
    """User plus system CPU time each topology process has used so far, its children (nginx's
    workers) counted with it, by the name of its pid file."""
    found: dict[str, float] = {}
    for pid_file in sorted(run_dir.glob("*.pid")):
        pid = int(pid_file.read_text().split()[0])
        found[pid_file.stem] = _cpu_seconds(f"/proc/{pid}/stat") + sum(
            _cpu_seconds(f"/proc/{kid}/stat") for kid in children_of(pid)
        )
    return found


def reset_peaks(run_dir: Path) -> None:
    """Each topology process's peak resident memory started again from its current size
    (Linux ``clear_refs`` 5), so that a peak read afterwards is the peak of what came between."""
    for pid_file in run_dir.glob("*.pid"):
        pid = int(pid_file.read_text().split()[0])
        for each in [pid, *children_of(pid)]:
            with contextlib.suppress(OSError):
                Path(f"/proc/{each}/clear_refs").write_text("5")


def metric(text: str, name: str) -> float | None:
    """The value of ``name`` in a Prometheus text page, its labelled series summed; None when
    the page does not have it."""
    found = None
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)$")
    for line in text.splitlines():
        matched = pattern.match(line)
        if matched:
            found = (found or 0.0) + float(matched.group(1))
    return found


def read_metric(app_url: str, name: str) -> float | None:
    """``name`` read from one app process's /metrics (on its own port: loopback may read it,
    a request through nginx may not); None when it cannot be read."""
    try:
        answer = httpx.get(app_url + "/metrics", timeout=10)
    except httpx.HTTPError:
        return None
    return metric(answer.text, name) if answer.status_code == 200 else None
