"""``python -m bench.inprocess``: the server's CPU per request of the sign-in, workspace and
document pages, measured in this process with Django's test client, and where it goes.

It seeds the page benchmark's data with :func:`bench.seed.seed` at ``bench.run``'s sizes
(``BENCH_DOCS`` documents of ``BENCH_VERSIONS`` versions, 300 members, the heavy document of 50
versions, 200 comments in 40 threads and a preview) in a throw-away data directory under
``BENCH_DIR`` (and, with ``BENCH_POSTGRES_URL``, a throw-away database on that server), settles
the garbage collector as the serving process does (``core.heap.settle_for_serving``), then, for
each page, asks it 5 times to warm up (each answer checked to be a 200 with its content), counts
the SQL statements of one more request, and times ``BENCH_INPROCESS_REQUESTS`` requests (default
40) one after another, ``resource.getrusage`` (user + system) and the wall clock around each:

- the sign-in page, not signed in: the reference, what any page costs;
- the workspace page (its first page of documents), as the seeded manager;
- the document page of the heavy document, as the manager, a commenter and a viewer.

It prints, per page, the statements, the CPU per request (p50 and mean), the wall-clock p50 and
the page's CPU divided by the sign-in page's. Without the network, uvicorn and the load
generator sharing the machine, these figures move far less than ``bench.run``'s: they are the
ones to compare two trees by (run it in each, ``PYTHONPATH`` naming the tree's ``src``). On
SQLite the database's own work is in this process's CPU; on PostgreSQL it is the database
server's, not counted here (the wall clock includes it).

``BENCH_INPROCESS_PROFILE=1`` also prints a pyinstrument profile (text) of 20 requests of each
page (pyinstrument must be installed: ``pip install pyinstrument``).
``BENCH_INPROCESS_SUGGESTIONS=N`` (default 0) adds N suggestions by the commenter to the heavy
document's latest version, the first rejected by the manager, through the suggestions
services, for the sections that show them.

It prints only: no section of docs/benchmarks.md is written (the hand-written sections cite
it). ``make bench`` runs it after ``bench.run`` (it is cheap: about 30 s on SQLite and 40 s on
PostgreSQL at the default sizes on the 2-CPU machine), so that a run's output has the in-process
figures beside the server's. Nothing here fails on timing; the run stops only when a page
answers wrongly.

Quick run while developing: ``BENCH_DOCS=1000 python -m bench.inprocess``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import Config, redact
from bench.machine import load_average, machine
from bench.server import commonroom, server_environment

WARM_UPS = 5
PROFILED = 20
COMMENTER = "aisha@example.org"  # a commenter in the benchmark workspace (bench.seed)


def step(message: str) -> None:
    print(f"[inprocess] {message}", flush=True)


def cpu_seconds() -> float:
    """User plus system CPU time this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class PageRun:
    name: str
    reader: str  # who asks: an email, or "" for someone not signed in
    path: str
    must_contain: str
    statements: int = 0
    size_bytes: int = 0
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def cpu_mean(self) -> float:
        return statistics.fmean(self.cpu_ms)

    @property
    def wall_p50(self) -> float:
        return statistics.median(self.wall_ms)


def main() -> None:
    started = time.perf_counter()
    config = Config.from_env()
    requests = max(1, int(os.environ.get("BENCH_INPROCESS_REQUESTS", "") or 40))
    suggestions = max(0, int(os.environ.get("BENCH_INPROCESS_SUGGESTIONS", "") or 0))
    profile = os.environ.get("BENCH_INPROCESS_PROFILE", "") == "1"
    if profile:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            raise SystemExit(
                "BENCH_INPROCESS_PROFILE=1 needs pyinstrument, which is not installed here: "
                "pip install pyinstrument (or run without BENCH_INPROCESS_PROFILE)"
            ) from None
    info = machine()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="inprocess-", dir=config.base_dir))
    try:
        with contextlib.ExitStack() as stack:
            database_url = ""
            if config.postgres_url:
                from bench.run import postgres_database

                step(f"PostgreSQL at {redact(config.postgres_url)}: a throw-away database")
                database_url = stack.enter_context(postgres_database(config.postgres_url))
            database, runs, described = run(
                config, data_dir, database_url, requests, suggestions, profile
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print()
    print(
        f"{info.date}, {info.describe()}; commit `{info.commit}`; load average "
        f"{info.load_start} -> {load_average()}; {database}; {described}; "
        f"{WARM_UPS} requests to warm up, then {requests} timed each; "
        f"run took {time.perf_counter() - started:.0f} s."
    )
    print()
    print(render(runs))


def run(
    config: Config,
    data_dir: Path,
    database_url: str,
    requests: int,
    suggestions: int,
    profile: bool,
) -> tuple[str, list[PageRun], str]:
    env = server_environment(config, data_dir, database_url)
    # This process is the server here: the same settings as bench.run's server.
    for name in list(os.environ):
        if name not in env:
            del os.environ[name]
    os.environ.update(env)
    step(f"data directory {data_dir}; migrating")
    commonroom(env, "migrate", "--noinput", "-v", "0")

    import django

    django.setup()
    from django.db import connection

    from bench import seed
    from commonroom.core.heap import settle_for_serving
    from commonroom.workspaces.models import Membership, Role

    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
        connection.vendor, connection.vendor
    )
    step(f"seeding {config.docs:,} documents x {config.versions} versions ({database})")
    t0 = time.perf_counter()
    seeded = seed.seed(docs=config.docs, versions=config.versions, password=secrets.token_hex(16))
    if suggestions:
        add_suggestions(seeded.manager_email, seeded.workspace_id, seeded.document_id, suggestions)
    viewer = (
        Membership.objects.filter(workspace_id=seeded.workspace_id, role=Role.VIEWER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
        .first()
    )
    if viewer is None:
        raise SystemExit("the seeded workspace has no viewer")
    described = (
        f"{seeded.documents:,} documents ({seeded.versions:,} versions), {seeded.members} "
        f"members; the document: {seeded.heavy_versions} versions, {seeded.heavy_comments} "
        f"comments in {seeded.heavy_threads} threads, preview {seeded.heavy_preview}"
        + (f", {suggestions} suggestions (one rejected)" if suggestions else "")
    )
    step(f"  seeded in {time.perf_counter() - t0:.0f} s: {described}")

    ws, doc = seeded.workspace_id, seeded.document_id
    document_must = f"Version {seeded.heavy_versions}"
    runs = [
        PageRun("Sign-in page (reference)", "", "/accounts/login/", "csrfmiddlewaretoken"),
        PageRun(
            "Workspace page, first page",
            seeded.manager_email,
            f"/w/{ws}/",
            seeded.listed_document_name,
        ),
        PageRun("Document page", seeded.manager_email, f"/w/{ws}/d/{doc}/", document_must),
        PageRun("Document page", COMMENTER, f"/w/{ws}/d/{doc}/", document_must),
        PageRun("Document page", viewer, f"/w/{ws}/d/{doc}/", document_must),
    ]
    # As the serving process does once it is loaded (asgi.py): what is here is frozen out of
    # the collector's sight, so full collections walk only what requests make.
    settle_for_serving()
    for page in runs:
        measure(page, requests)
        step(
            f"{page.name} ({page.reader or 'not signed in'}): {page.statements} statements, "
            f"CPU p50 {page.cpu_p50:.1f} ms, mean {page.cpu_mean:.1f} ms, "
            f"wall p50 {page.wall_p50:.1f} ms"
        )
    if profile:
        for page in runs:
            text = profile_page(page)
            print(
                f"\n===== profile: {page.name}, {page.reader or 'not signed in'}, "
                f"{PROFILED} requests ({page.path}) =====\n{text}",
                flush=True,
            )
    return database, runs, described


def client_for(reader: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    if reader:
        client.force_login(get_user_model().objects.get(email=reader))
    return client


def checked(page: PageRun, get: Callable[[str], Any]) -> Any:
    """One GET of the page; a 200 with its content, or the run stops."""
    response = get(page.path)
    if response.status_code != 200 or page.must_contain not in response.content.decode():
        raise SystemExit(
            f"{page.path} for {page.reader or 'someone not signed in'} answered "
            f"{response.status_code} without {page.must_contain!r}"
        )
    return response


def measure(page: PageRun, requests: int) -> None:
    """Warm-ups, one request with its statements counted, then ``requests`` timed one after
    another (getrusage and the wall clock around each; the answer checked outside them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(page.reader)
    for _ in range(WARM_UPS):
        checked(page, client.get)
    with CaptureQueriesContext(connection) as ctx:
        page.size_bytes = len(checked(page, client.get).content)
    page.statements = len(ctx.captured_queries)
    for _ in range(requests):
        cpu, wall = cpu_seconds(), time.perf_counter()
        response = client.get(page.path)
        page.wall_ms.append((time.perf_counter() - wall) * 1000)
        page.cpu_ms.append((cpu_seconds() - cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{page.path} answered {response.status_code}")
    checked(page, client.get)  # still signed in, still the real page


def profile_page(page: PageRun) -> str:
    """pyinstrument's text profile of ``PROFILED`` requests of the page, after one to warm up."""
    from pyinstrument import Profiler

    client = client_for(page.reader)
    checked(page, client.get)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(PROFILED):
            client.get(page.path)
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


def add_suggestions(manager_email: str, workspace_id: str, document_id: str, count: int) -> None:
    """``count`` suggestions by the commenter on passages of the document's latest version (its
    preview's paragraphs), the first rejected by the manager: made by the services, as the
    suggestions page makes them."""
    from django.contrib.auth import get_user_model

    from commonroom.documents.selectors import document_access, document_versions
    from commonroom.previews.selectors import preview_blocks
    from commonroom.suggestions.services import suggestion_create, suggestion_reject

    User = get_user_model()
    author = User.objects.get(email=COMMENTER)
    manager = User.objects.get(email=manager_email)
    access = document_access(user=author, workspace_id=workspace_id, document_id=document_id)
    latest = access.document.current_version_number
    version = document_versions(doc_access=access).get(number=latest)
    blocks = [
        b
        for b in preview_blocks(doc_access=access, version=version) or []
        if b.text.strip() and not b.aside
    ]
    if len(blocks) < count:
        raise SystemExit(f"the document's preview has {len(blocks)} passages, not {count}")
    made = [
        suggestion_create(
            actor=author,
            doc_access=access,
            version_number=latest,
            block_id=block.id,
            start=0,
            end=min(5, len(block.text)),
            kind="replace",
            text=f"New words {i}",
            reason="Clearer" if i % 2 else "",
        )
        for i, block in enumerate(blocks[:count])
    ]
    suggestion_reject(
        actor=manager,
        doc_access=document_access(
            user=manager, workspace_id=workspace_id, document_id=document_id
        ),
        suggestion_id=made[0].pk,
        reason="Not now",
    )


def render(runs: list[PageRun]) -> str:
    reference = runs[0]
    lines = [
        "| Page | Signed in as | Statements | Bytes | CPU / request p50 | CPU mean | "
        "Wall p50 | CPU ÷ sign-in's (mean; p50) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for page in runs:
        mean_ratio = page.cpu_mean / reference.cpu_mean if reference.cpu_mean else 0.0
        p50_ratio = page.cpu_p50 / reference.cpu_p50 if reference.cpu_p50 else 0.0
        lines.append(
            f"| {page.name} | {page.reader or '-'} | {page.statements} | "
            f"{page.size_bytes:,} | {page.cpu_p50:.1f} ms | {page.cpu_mean:.1f} ms | "
            f"{page.wall_p50:.1f} ms | {mean_ratio:.1f}x; {p50_ratio:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
