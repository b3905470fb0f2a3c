"""``python -m bench.chains`` (run by ``make bench``): the audit trail's chains per workspace
against the single global chain they replaced, on PostgreSQL, in one run.

Eight clients (``BENCH_CHAINS_CLIENTS``), each a different person in a different workspace,
loop for ``BENCH_CHAINS_SECONDS`` (default 20, after a 3-second warm-up): view their document
three times (the document page, which records a view in the audit trail) and comment on it once
(the JSON API: the comment, its live event, search entry, notifications and audit row). The
same load runs against two servers, one after the other (``BENCH_CHAINS_ROUNDS`` times each,
default 1, alternating), each with its own throw-away database and data directory and the same
settings (``commonroom serve --workers BENCH_CHAINS_WORKERS``, default 2, with Redis at
``BENCH_CHAINS_REDIS_URL`` as the shared cache and live layer; several workers need it):

- *single chain*: the code of the commit before the per-workspace chains
  (``BENCH_CHAINS_BEFORE``, default ``3eb2ae0^``), taken with ``git archive`` into a temporary
  folder and run from there (its migrations, its server), so "before" is the old code path
  itself, not a switch in the new code;
- *per-workspace chains*: this checkout as it is (or the commit ``BENCH_CHAINS_AFTER``, taken
  the same way, to leave out uncommitted work).

Then the same work is done by eight processes calling the services directly (no HTTP, no
templates), so that the database and its locks are most of the time. The figures are the
ratios of the throughputs, for each. After each load the trail is verified (``audit
verify``) so a faster run that broke the chain would show. Nothing fails on timing; the run
stops only if a page or comment is answered wrongly. Needs PostgreSQL
(``BENCH_POSTGRES_URL``, or the test server ``postgres://postgres@127.0.0.1:5432/postgres``);
without it the benchmark says so and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.server import CLEARED

REPO = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("BENCH_CHAINS_CLIENTS", "") or 8)
VIEWS_PER_COMMENT = 3
PASSWORD = "bench-chains-" + "p" * 12
SECONDS = float(os.environ.get("BENCH_CHAINS_SECONDS", "") or 20)
WARMUP = 3.0
ROUNDS = max(1, int(os.environ.get("BENCH_CHAINS_ROUNDS", "") or 1))
WORKERS = max(1, int(os.environ.get("BENCH_CHAINS_WORKERS", "") or 2))
BEFORE = os.environ.get("BENCH_CHAINS_BEFORE", "") or "3eb2ae0^"
AFTER = os.environ.get("BENCH_CHAINS_AFTER", "")  # a commit; empty: this checkout as it is
REDIS_URL = os.environ.get("BENCH_CHAINS_REDIS_URL", "") or "redis://127.0.0.1:6379/6"


def step(message: str) -> None:
    print(f"[chains] {message}", flush=True)


# --- Seeding (run inside each code tree, as a child process) ---------------------------------


def seed() -> dict[str, Any]:
    """Eight workspaces, each with its manager and one document; a write token each. Only
    services both code trees have."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.accounts.models import TokenScope, User
    from commonroom.accounts.services import token_create
    from commonroom.documents.services import document_upload
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    clients = []
    for i in range(CLIENTS):
        person = User.objects.create_user(f"client{i}@example.org", PASSWORD)
        ws = workspace_create(actor=person, name=f"Ward {i}")
        version = document_upload(
            actor=person,
            access=workspace_access(user=person, workspace_id=ws.pk),
            uploaded=SimpleUploadedFile(
                f"handover-{i}.txt", b"Handover notes\n" * 50, content_type="text/plain"
            ),
        )
        token = token_create(actor=person, name="bench", scope=TokenScope.WRITE).secret
        clients.append(
            {
                "email": person.email,
                "workspace": str(ws.pk),
                "document": str(version.document_id),
                "token": token,
            }
        )
    return {"clients": clients}


def _direct_client(who: dict[str, Any], start: float, end: float, queue: Any) -> None:
    """One client calling the services directly, in its own process and connection."""
    from commonroom.accounts.models import User
    from commonroom.comments.services import comment_create
    from commonroom.core.request_info import SYSTEM
    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import document_record_view

    user = User.objects.get(email=who["email"])
    views: list[float] = []
    comments: list[float] = []
    n = 0
    while time.time() < end:
        for _ in range(VIEWS_PER_COMMENT):
            began, t = time.time(), time.perf_counter()
            access = document_access(
                user=user, workspace_id=who["workspace"], document_id=who["document"]
            )
            document_record_view(actor=user, doc_access=access, info=SYSTEM)
            if began >= start and time.time() <= end:
                views.append((time.perf_counter() - t) * 1000)
        n += 1
        began, t = time.time(), time.perf_counter()
        access = document_access(
            user=user, workspace_id=who["workspace"], document_id=who["document"]
        )
        comment_create(actor=user, doc_access=access, body=f"Checked directly, round {n}.")
        if began >= start and time.time() <= end:
            comments.append((time.perf_counter() - t) * 1000)
    queue.put({"views": views, "comments": comments})


def direct(clients_file: str) -> dict[str, Any]:
    """The same work as the HTTP clients, by eight processes calling the services (no HTTP,
    no templates): the database and its locks are then most of the time."""
    import multiprocessing

    import django

    django.setup()
    from django.db import connections

    clients = json.loads(Path(clients_file).read_text())["clients"]
    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start = time.time() + WARMUP
    end = start + SECONDS
    processes = [
        context.Process(target=_direct_client, args=(who, start, end, queue)) for who in clients
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=SECONDS + WARMUP + 300) for _ in processes]
    for process in processes:
        process.join(60)
    return {
        "views": [v for r in results for v in r["views"]],
        "comments": [c for r in results for c in r["comments"]],
    }


# --- The code trees and their servers --------------------------------------------------------


@dataclass
class Tree:
    label: str
    root: Path
    commit: str


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def archived(commit: str, into: Path) -> Path:
    """The files of ``commit`` (no .git, nothing of this checkout's) in ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def environment(tree: Tree, data_dir: Path, database_url: str, redis: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        {
            # This tree's code first: before the checkout the virtualenv points at.
            "PYTHONPATH": str(tree.root / "src"),
            "DJANGO_SETTINGS_MODULE": "commonroom.settings",
            "COMMONROOM_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "COMMONROOM_DEBUG": "0",
            "COMMONROOM_MFA_REQUIRED": "none",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "COMMONROOM_LOGIN_RATE_LIMIT": "1000/m/ip,1000/m/key",
            "LOG_LEVEL": "WARNING",
        }
    )
    if redis:
        env["REDIS_URL"] = REDIS_URL
        env["COMMONROOM_CHANNEL_PREFIX"] = f"bench-chains-{secrets.token_hex(4)}"
    return env


def run(tree: Tree, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=tree.root, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} failed in {tree.label}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every process below it."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo.extend(c for c, parent in parents.items() if parent == p)
    return total


@contextlib.contextmanager
def serving(tree: Tree, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "commonroom",
                "serve",
                "--no-worker",
                "--workers",
                str(WORKERS),
                "--port",
                str(port),
            ],
            cwd=tree.root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the {tree.label} server exited at start; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the {tree.label} server did not answer; see {log}")
            time.sleep(0.3)
        yield url, process.pid
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


# --- The load ----------------------------------------------------------------------------------


@dataclass
class Load:
    label: str
    commit: str
    seconds: float = 0.0
    views: list[float] = field(default_factory=list)  # latency of each, ms
    comments: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    direct_views: list[float] = field(default_factory=list)
    direct_comments: list[float] = field(default_factory=list)
    audit_rows: int = 0
    verified: str = ""

    @property
    def direct_per_second(self) -> float:
        done = len(self.direct_views) + len(self.direct_comments)
        return done / self.seconds if self.seconds else 0.0

    @property
    def requests(self) -> int:
        return len(self.views) + len(self.comments)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def sign_in(url: str, email: str) -> dict[str, str]:
    import re

    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise SystemExit("no CSRF token on the sign-in page")
        answer = client.post(
            "/accounts/login/",
            data={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": match.group(1)},
            headers={"Referer": url + "/accounts/login/"},
        )
        if answer.status_code != 302:
            raise SystemExit(f"sign-in of {email} answered {answer.status_code}")
        return {name: value for name, value in client.cookies.items() if value}


async def client_loop(
    url: str, who: dict[str, Any], cookies: dict[str, str], load: Load, window: list[float]
) -> None:
    page = f"{url}/w/{who['workspace']}/d/{who['document']}/"
    api = f"{url}/api/v1/workspaces/{who['workspace']}/documents/{who['document']}/comments"
    n = 0
    async with (
        httpx.AsyncClient(cookies=cookies, timeout=60) as browser,
        httpx.AsyncClient(
            headers={"Authorization": f"Bearer {who['token']}"}, timeout=60
        ) as api_client,
    ):
        while time.perf_counter() < window[1]:
            for _ in range(VIEWS_PER_COMMENT):
                t = time.perf_counter()
                answer = await browser.get(page)
                if answer.status_code != 200 or "handover-" not in answer.text:
                    raise SystemExit(f"the document page answered {answer.status_code}")
                if window[0] <= t and time.perf_counter() <= window[1]:
                    load.views.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            n += 1
            answer = await api_client.post(api, json={"body": f"Checked at round {n}."})
            if answer.status_code != 201:
                raise SystemExit(f"a comment answered {answer.status_code}: {answer.text[:200]}")
            if window[0] <= t and time.perf_counter() <= window[1]:
                load.comments.append((time.perf_counter() - t) * 1000)


async def drive(url: str, clients: list[dict[str, Any]], load: Load, pid: int) -> None:
    jars = [sign_in(url, who["email"]) for who in clients]
    start = time.perf_counter() + WARMUP
    window = [start, start + SECONDS]
    cpu: list[float] = []

    async def meter() -> None:
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        cpu.append(tree_cpu(pid))
        await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
        cpu.append(tree_cpu(pid))

    await asyncio.gather(
        meter(),
        *(client_loop(url, who, jar, load, window) for who, jar in zip(clients, jars, strict=True)),
    )
    load.seconds = SECONDS
    load.server_cpu = cpu[1] - cpu[0]


def one_load(tree: Tree, pg_url: str, base: Path, redis: bool) -> Load:
    from bench.run import postgres_database

    load = Load(tree.label, tree.commit)
    data_dir = Path(tempfile.mkdtemp(prefix="chains-", dir=base))
    try:
        with postgres_database(pg_url) as database_url:
            env = environment(tree, data_dir, database_url, redis)
            run(tree, env, "-m", "commonroom", "migrate", "--noinput", "-v", "0")
            seeded = json.loads(run(tree, env, str(REPO / "bench" / "chains.py"), "--seed"))
            with serving(tree, env, data_dir / "server.log") as (url, pid):
                asyncio.run(drive(url, seeded["clients"], load, pid))
            clients_file = data_dir / "clients.json"
            clients_file.write_text(json.dumps(seeded))
            figures = json.loads(
                run(tree, env, str(REPO / "bench" / "chains.py"), "--direct", str(clients_file))
            )
            load.direct_views, load.direct_comments = figures["views"], figures["comments"]
            said = run(tree, env, "-m", "commonroom", "audit", "verify")  # exits 1 if broken
            load.verified = "ok" if said.startswith("ok:") else said.strip()[:80]
            import psycopg

            with psycopg.connect(database_url) as conn:
                row = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()
                load.audit_rows = int(row[0]) if row else 0
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return load


# --- Report ------------------------------------------------------------------------------------


def render(loads: list[Load], info: Any, notes: list[str]) -> str:
    from bench.machine import load_average
    from bench.report import TIMES

    def ratio(rate: Any) -> float:
        def mean(label: str) -> float:
            rates = [rate(x) for x in loads if x.label == label]
            return statistics.mean(rates) if rates else 0.0

        before = mean("Single chain")
        return mean("Per-workspace chains") / before if before else 0.0

    lines = [
        "## Audit chains per workspace (issue 10), PostgreSQL",
        "",
        f"{CLIENTS} clients, each a different person in a different workspace, each viewing "
        f"its document {VIEWS_PER_COMMENT} times then commenting once, for {SECONDS:g} s after "
        f"a {WARMUP:g} s warm-up. *Single chain*: the code of "
        f"`{loads[0].commit if loads else BEFORE}`, the commit before the change, run from a "
        "`git archive` of it with its own migrations; *per-workspace chains*: "
        f"`{loads[-1].commit if loads else 'this checkout'}`. Each pair of runs has its own "
        "throw-away database and data directory; the trail is verified after each (`audit "
        "verify`). Nothing fails on timing.",
        "",
        f"Machine: {info.describe()}; commit {info.commit}; {info.date}; "
        f"load {info.load_start} → {load_average()}.",
        "",
        f"### Through the server (`commonroom serve --workers {WORKERS}`)",
        "",
        "Views are the document page (HTML, signed in, audited); comments go through the JSON API "
        "(the comment, its live event, search entry, notifications and audit row).",
        "",
        "| Code | Requests/s | Views/s | Comments/s | View p50 / p99 | Comment p50 / p99 "
        "| Server CPU / request | Audit rows | `audit verify` |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for x in loads:
        cpu = x.server_cpu / x.requests * 1000 if x.requests else 0.0
        lines.append(
            f"| {x.label} | **{x.per_second:,.1f}** | {len(x.views) / x.seconds:,.1f} | "
            f"{len(x.comments) / x.seconds:,.1f} | {pct(x.views, 50):,.0f} / "
            f"{pct(x.views, 99):,.0f} ms | {pct(x.comments, 50):,.0f} / "
            f"{pct(x.comments, 99):,.0f} ms | {cpu:,.1f} ms | {x.audit_rows:,} | "
            f"{x.verified} |"
        )
    lines += [
        "",
        f"**Ratio per-workspace / single chain: {ratio(lambda x: x.per_second):.2f}{TIMES}** "
        "(requests per second).",
        "",
        "### The services called directly",
        "",
        f"The same work by {CLIENTS} processes calling `document_access` + "
        "`document_record_view` and `comment_create` (no HTTP, no templates), each with its own "
        "database connection, on the same database after the server's run: the database and "
        "its locks are then most of each operation's time.",
        "",
        "| Code | Operations/s | Views/s | Comments/s | View p50 / p99 | Comment p50 / p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for x in loads:
        lines.append(
            f"| {x.label} | **{x.direct_per_second:,.1f}** | "
            f"{len(x.direct_views) / x.seconds:,.1f} | "
            f"{len(x.direct_comments) / x.seconds:,.1f} | {pct(x.direct_views, 50):,.1f} / "
            f"{pct(x.direct_views, 99):,.1f} ms | {pct(x.direct_comments, 50):,.1f} / "
            f"{pct(x.direct_comments, 99):,.1f} ms |"
        )

    def median_p99(label: str) -> float:
        values = [pct(x.direct_views, 99) for x in loads if x.label == label]
        return statistics.median(values) if values else 0.0

    lines += [
        "",
        f"**Ratio per-workspace / single chain: {ratio(lambda x: x.direct_per_second):.2f}"
        f"{TIMES}** (operations per second). An audited view's p99 (median of the rounds): "
        f"{median_p99('Single chain'):,.0f} ms with the single chain, "
        f"{median_p99('Per-workspace chains'):,.0f} ms with per-workspace chains.",
        "",
        *(f"- {n}" for n in notes),
        "",
        f"Reproduce: `{command()}` (part of `make bench`).",
        "",
    ]
    return "\n".join(lines)


def command() -> str:
    """The command that reproduces this run (the settings that differ from the defaults)."""
    names = (
        "BENCH_CHAINS_SECONDS",
        "BENCH_CHAINS_ROUNDS",
        "BENCH_CHAINS_WORKERS",
        "BENCH_CHAINS_CLIENTS",
        "BENCH_CHAINS_BEFORE",
        "BENCH_CHAINS_AFTER",
        "BENCH_POSTGRES_URL",
    )
    set_ = [f"{n}={os.environ[n]}" for n in names if os.environ.get(n)]
    return " ".join([*set_, ".venv/bin/python -m bench.chains"])


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def main() -> None:
    from django.conf import settings

    from bench.config import DEFAULT_PG, Config, redact
    from bench.machine import machine
    from bench.report import write_section
    from bench.search import postgres_answers

    if not settings.configured:  # postgres_database closes Django's connections: none here
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    pg_url = config.postgres_url or DEFAULT_PG
    if not postgres_answers(pg_url):
        step(f"PostgreSQL at {redact(pg_url)} did not answer: this benchmark is SKIPPED")
        return
    notes: list[str] = []
    redis = redis_answers()
    if not redis and WORKERS > 1:
        step(
            f"Redis at {REDIS_URL} did not answer: serve refuses several processes without a "
            "shared cache, so this benchmark is SKIPPED (or set BENCH_CHAINS_WORKERS=1)"
        )
        return
    if not redis:
        notes.append(f"Redis at {REDIS_URL} did not answer: the servers ran without it.")
    before_commit = git("rev-parse", "--short=12", BEFORE)
    with tempfile.TemporaryDirectory(prefix="chains-trees-", dir=config.base_dir) as tmp:
        after = (
            Tree("Per-workspace chains", REPO, info.commit)
            if not AFTER
            else Tree(
                "Per-workspace chains",
                archived(git("rev-parse", "--short=12", AFTER), Path(tmp) / "after"),
                git("rev-parse", "--short=12", AFTER),
            )
        )
        trees = [
            Tree("Single chain", archived(before_commit, Path(tmp) / "before"), before_commit),
            after,
        ]
        loads = []
        for round_ in range(ROUNDS):
            for tree in trees:
                step(f"round {round_ + 1}: {tree.label} ({tree.commit})")
                load = one_load(tree, pg_url, config.base_dir, redis)
                step(
                    f"  {load.per_second:,.1f} requests/s ({len(load.views)} views, "
                    f"{len(load.comments)} comments), {load.audit_rows:,} audit rows, "
                    f"audit verify {load.verified}; services directly: "
                    f"{load.direct_per_second:,.1f} operations/s"
                )
                loads.append(load)
    text = render(loads, info, notes)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "chains", text)
        step(f"figures written to {config.output}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        print(json.dumps(seed()))
    elif sys.argv[1:2] == ["--direct"]:
        print(json.dumps(direct(sys.argv[2])))
    else:
        main()
