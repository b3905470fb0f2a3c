"""``python -m bench.api_lists``: a page of 100 of each of the JSON API's lists, against the real
server, beside ``GET /api/v1/me`` in the same run.

The workspace has ``BENCH_DOCS`` documents (default 10,000) of ``BENCH_VERSIONS`` versions
(default 5), seeded by :mod:`bench.seed`; this module adds, with ``bulk_create``, what the other
lists need: 300 members and 300 invitations, 300 folders, a document of 250 versions with 200
comments in 40 threads, 300 conversations (one of 500 messages), 500 notifications, 150 API
tokens, 150 workspaces, and 300 documents in the trash. The person asking is the workspace's
manager, signed in through the real sign-in form (a session cookie, as the API accepts for
reads).

For each list: SQL queries of one page (Django's test client, in this process), the server's
CPU per request one at a time, and p50/p99 over ``BENCH_API_SECONDS`` seconds (default 5) of
requests one after another; each page is checked to be a full page of 100 with a ``next``
link, before and after, so an error can never pass for a fast answer. Nothing fails on timing.

Quick run while developing: ``BENCH_DOCS=1000 BENCH_API_SECONDS=2 python -m bench.api_lists``.
``BENCH_POSTGRES_URL`` runs it on PostgreSQL; ``BENCH_OUTPUT=-`` only prints.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import pages
from bench.config import Config
from bench.machine import load_average, machine
from bench.report import write_section
from bench.server import Server, commonroom, server_environment

KEY = "api-lists"
# Set to measure a checkout from before the lists were paged (their whole lists, no ``next``).
BEFORE = os.environ.get("BENCH_API_BEFORE") == "1"
PAGE = 100
BUDGET_P50_MS = 20.0
MEMBERS = 300
FOLDERS = 300
INVITATIONS = 300
LONG_VERSIONS = 250
THREADS, REPLIES = 150, 1  # 150 threads of 2 comments: a full page of threads
CONVERSATIONS, MESSAGES = 300, 500
NOTIFICATIONS = 500
TOKENS = 150
WORKSPACES = 150
TRASHED = 300


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class ListFigures:
    name: str
    path: str
    queries: int = 0
    cpu_ms: float = 0.0
    requests: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0


@dataclass
class Results:
    database: str
    docs: int
    versions: int
    seed_seconds: float = 0.0
    load_start: str = ""
    load_end: str = ""
    total_seconds: float = 0.0
    lists: list[ListFigures] = field(default_factory=list)


def seed_lists(*, manager_email: str, workspace_id: str) -> dict[str, str]:
    """Rows for every list of the API, in bulk; the paths of the lists that show them."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from commonroom.accounts.models import TokenScope
    from commonroom.accounts.services import token_create
    from commonroom.comments.models import Comment
    from commonroom.conversations.models import Conversation, Message
    from commonroom.documents.models import Document, Folder, Version
    from commonroom.notifications.models import Notification
    from commonroom.workspaces.models import Invitation, Membership, Role, Workspace

    User = get_user_model()
    manager = User.objects.get(email=manager_email)
    ws = Workspace.objects.get(pk=workspace_id)
    now = timezone.now()
    with transaction.atomic():
        people = User.objects.bulk_create(
            [
                User(email=f"member{i:03d}@trust.example.org", full_name=f"Member {i:03d}")
                for i in range(MEMBERS)
            ]
        )
        people = list(User.objects.filter(email__endswith="@trust.example.org"))
        Membership.objects.bulk_create(
            [Membership(workspace=ws, user=p, role=Role.COMMENTER) for p in people]
        )
        Invitation.objects.bulk_create(
            [
                Invitation(
                    workspace=ws,
                    email=f"invited{i:03d}@partner.example.net",
                    role=Role.VIEWER,
                    token_hash=secrets.token_hex(32),
                    invited_by=manager,
                    created_at=now - timedelta(minutes=i),
                    expires_at=now + timedelta(days=14),
                )
                for i in range(INVITATIONS)
            ]
        )
        Folder.objects.bulk_create(
            [
                Folder(workspace=ws, name=f"Committee {i:03d}", created_by=manager)
                for i in range(FOLDERS)
            ]
        )
        template = Version.objects.filter(document__workspace=ws).select_related("blob").first()
        assert template is not None, "the workspace should have documents"
        long = Document.objects.create(
            workspace=ws,
            name="0000 Annual report (long history).docx",
            created_by=manager,
            current_version_number=LONG_VERSIONS,
        )
        Version.objects.bulk_create(
            [
                Version(
                    document=long,
                    number=n,
                    blob=template.blob,
                    filename=long.name,
                    content_type=template.content_type,
                    size=template.size,
                    author=manager,
                    created_at=now - timedelta(hours=LONG_VERSIONS - n),
                    based_on_number=n - 1 or None,
                )
                for n in range(1, LONG_VERSIONS + 1)
            ]
        )
        latest = Version.objects.get(document=long, number=LONG_VERSIONS)
        roots = Comment.objects.bulk_create(
            [
                Comment(
                    document=long,
                    version=latest,
                    author=people[t % len(people)],
                    body=f"Point {t}: the figures in section {t} need a source.",
                    body_html=f"<p>Point {t}: the figures in section {t} need a source.</p>",
                    created_at=now - timedelta(minutes=THREADS * 10 - t),
                )
                for t in range(THREADS)
            ]
        )
        Comment.objects.bulk_create(
            [
                Comment(
                    document=long,
                    version=latest,
                    thread=root,
                    author=people[(t + r + 1) % len(people)],
                    body=f"Reply {r} to point {t}.",
                    body_html=f"<p>Reply {r} to point {t}.</p>",
                    created_at=root.created_at + timedelta(seconds=r + 1),
                )
                for t, root in enumerate(roots)
                for r in range(REPLIES)
            ]
        )
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    workspace=ws,
                    title=f"Topic {i:03d}",
                    created_by=manager,
                    created_at=now - timedelta(hours=i),
                    last_message_at=now - timedelta(hours=i),
                    message_count=MESSAGES if i == 0 else 0,
                )
                for i in range(CONVERSATIONS)
            ]
        )
        talk = conversations[0]
        Message.objects.bulk_create(
            [
                Message(
                    conversation=talk,
                    author=people[i % len(people)],
                    body=f"Message {i}",
                    body_html=f"<p>Message {i}</p>",
                    created_at=now - timedelta(seconds=MESSAGES - i),
                )
                for i in range(MESSAGES)
            ]
        )
        Notification.objects.bulk_create(
            [
                Notification(
                    recipient=manager,
                    workspace=ws,
                    kind="comment",
                    actor=people[i % len(people)],
                    document=long,
                    target_url=f"/w/{ws.pk}/d/{long.pk}/",
                    summary=f"Member {i % len(people):03d} commented",
                    excerpt="The figures in section 3 need a source.",
                    dedupe_key=f"bench-{i}",
                    created_at=now - timedelta(minutes=i),
                )
                for i in range(NOTIFICATIONS)
            ]
        )
        others = Workspace.objects.bulk_create(
            [
                Workspace(name=f"Sub-committee {i:03d}", created_by=manager)
                for i in range(WORKSPACES)
            ]
        )
        Membership.objects.bulk_create(
            [Membership(workspace=w, user=manager, role=Role.MANAGER) for w in others]
        )
        trashed = list(
            Document.objects.filter(workspace=ws, deleted_at__isnull=True)
            .exclude(pk=long.pk)
            .order_by("-name")
            .values_list("pk", flat=True)[:TRASHED]
        )
        Document.objects.filter(pk__in=trashed).update(deleted_at=now, deleted_by=manager)
    for i in range(TOKENS):
        token_create(actor=manager, name=f"script {i}", scope=TokenScope.READ)
    w, d = f"/api/v1/workspaces/{ws.pk}", f"/api/v1/workspaces/{ws.pk}/documents/{long.pk}"
    return {
        "documents": f"{w}/documents",
        "folders": f"{w}/folders",
        "versions": f"{d}/versions",
        "members": f"{w}/members",
        "invitations": f"{w}/invitations",
        "threads (comments)": f"{d}/comments",
        "conversations": f"{w}/conversations",
        "messages": f"{w}/conversations/{talk.pk}/messages",
        "notifications": "/api/v1/notifications",
        "trash: documents": f"{w}/trash/documents",
        "workspaces": "/api/v1/workspaces",
        "tokens": "/api/v1/me/tokens",
    }


def main() -> None:
    started = time.perf_counter()
    config = Config.from_env()
    docs = int(os.environ.get("BENCH_DOCS") or 10_000)
    seconds = float(os.environ.get("BENCH_API_SECONDS") or 5)
    info = machine()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="api-lists-", dir=config.base_dir))
    load_start = load_average()
    try:
        with contextlib.ExitStack() as stack:
            database_url = ""
            if config.postgres_url:
                from bench.run import postgres_database

                database_url = stack.enter_context(postgres_database(config.postgres_url))
            results = run(config, data_dir, database_url, docs, seconds)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    results.load_start, results.load_end = load_start, load_average()
    results.total_seconds = time.perf_counter() - started
    text = render(results, info, seconds)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, KEY, text)
        step(f"figures written to {config.output}")


def run(config: Config, data_dir: Path, database_url: str, docs: int, seconds: float) -> Results:
    env = server_environment(config, data_dir, database_url)
    for name in list(os.environ):
        if name not in env:
            del os.environ[name]
    os.environ.update(env)
    password = secrets.token_urlsafe(16)
    step("migrating")
    commonroom(env, "migrate", "--noinput", "-v", "0")

    import django

    django.setup()
    from django.db import connection, connections

    from bench import seed

    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
        connection.vendor, connection.vendor
    )
    step(f"seeding {docs:,} documents x {config.versions} versions and the lists ({database})")
    t0 = time.perf_counter()
    seeded = seed.seed(docs=docs, versions=config.versions, password=password)
    paths = seed_lists(manager_email=seeded.manager_email, workspace_id=seeded.workspace_id)
    results = Results(database, seeded.documents, seeded.versions)
    results.seed_seconds = time.perf_counter() - t0
    step(f"  seeded in {results.seed_seconds:.0f} s")

    # What each answer must hold: the person, or a link to a next page.
    checks = {"/api/v1/me": seeded.manager_email}
    if BEFORE:
        # No such list before: the trash was one list of both kinds, messages only in a page
        # of their conversation.
        paths["trash: documents"] = paths["trash: documents"].removesuffix("/documents")
        paths["messages"] = paths["messages"].removesuffix("/messages") + f"?limit={PAGE}"
        paths["notifications"] += "?limit=200"  # the most it gave
    for name, path in paths.items():
        figures = ListFigures(name, path if BEFORE else f"{path}?limit={PAGE}")
        figures.queries = count_queries(seeded.manager_email, figures.path)
        results.lists.append(figures)
    profile_dir = os.environ.get("BENCH_API_PROFILE", "")
    if profile_dir:
        for figures in results.lists:
            profile(seeded.manager_email, figures, Path(profile_dir))
    connections.close_all()

    with Server(env, data_dir / "server.log") as server:
        step(f"server pid {server.pid} on {server.url}")
        cookies = pages.sign_in(server.url, seeded.manager_email, seeded.password)
        reference = ListFigures("reference: `GET /api/v1/me`", "/api/v1/me")
        for figures in [reference, *results.lists]:
            must = checks.get(figures.path, "" if BEFORE else "&cursor=")
            measure(server, cookies, figures, must, seconds)
        results.lists.insert(0, reference)
    return results


def count_queries(email: str, path: str) -> int:
    """SQL queries of one GET of ``path`` by ``email`` (after one to warm up), in this process."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    if response.status_code != 200 or not (BEFORE or "&cursor=" in response.content.decode()):
        raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
    return len(ctx.captured_queries)


def profile(email: str, figures: ListFigures, out_dir: Path) -> None:
    """pyinstrument's profile of 20 GETs of the list in this process (``BENCH_API_PROFILE``: the
    directory its text goes to), to see where a page's time goes."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from pyinstrument import Profiler

    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    client.get(figures.path)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(20):
            client.get(figures.path)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in figures.name)
    (out_dir / f"{name}.txt").write_text(
        profiler.output_text(show_all=os.environ.get("BENCH_API_PROFILE_ALL") == "1")
    )


def full_page(url: str, cookies: dict[str, str], must_contain: str) -> None:
    import httpx

    response = httpx.get(url, cookies=cookies, timeout=60)
    if response.status_code != 200 or must_contain not in response.text:
        raise SystemExit(f"{url} answered {response.status_code} without {must_contain!r}")
    body: Any = response.json()
    if not BEFORE and "items" in body and len(body["items"]) != PAGE:
        raise SystemExit(f"{url} answered {len(body['items'])} items, not {PAGE}")


def measure(
    server: Server, cookies: dict[str, str], figures: ListFigures, must: str, seconds: float
) -> None:
    import httpx

    url = server.url + figures.path
    full_page(url, cookies, must)
    latencies: list[float] = []
    cpu_before = server.cpu_seconds()
    with httpx.Client(cookies=cookies, timeout=60) as client:
        client.get(url)  # the connection opened, the page warm
        cpu_before = server.cpu_seconds()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(latencies) < (5 if BEFORE else 20):
            t0 = time.perf_counter()
            response = client.get(url)
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
    figures.cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / len(latencies)
    full_page(url, cookies, must)
    latencies.sort()
    figures.requests = len(latencies)
    figures.p50_ms = percentile(latencies, 50)
    figures.p99_ms = percentile(latencies, 99)
    step(
        f"{figures.name}: p50 {figures.p50_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms, "
        f"CPU {figures.cpu_ms:.1f} ms, {figures.queries} queries"
    )


def percentile(sorted_ms: list[float], p: float) -> float:
    rank = max(1, round(p / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


WHAT = "each whole list, before pages" if BEFORE else f"a page of {PAGE} of each"
CHECKED = "a 200" if BEFORE else "a full page with a `next` link"


def render(r: Results, info: Any, seconds: float) -> str:
    reference = r.lists[0]
    lines = [
        f"## API lists: {WHAT} ({r.database})",
        "",
        f"{info.date}, {info.describe()}; commit `{info.commit}`; load average "
        f"{r.load_start} → {r.load_end}. "
        f"One workspace of {r.docs:,} documents ({r.versions:,} versions), "
        f"{MEMBERS} members and as many invitations and folders, a document of {LONG_VERSIONS} "
        f"versions and {THREADS * (REPLIES + 1)} comments in {THREADS} threads, "
        f"{CONVERSATIONS} conversations (one of {MESSAGES} messages), {NOTIFICATIONS} "
        f"notifications, {TOKENS} tokens, {WORKSPACES} more workspaces, {TRASHED} documents "
        f"in the trash; seeded in {r.seed_seconds:.0f} s. The manager signed in through the "
        f"sign-in form; requests one after another on one kept-alive connection for "
        f"{seconds:g} s each; every answer checked to be {CHECKED}. "
        f"Budget: p50 < {BUDGET_P50_MS:g} ms. Run took {r.total_seconds:.0f} s.",
        "",
        "| List (`?limit=100`) | Queries | Server CPU / request | p50 | p99 | p50 / reference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for f in r.lists:
        ratio = f.p50_ms / reference.p50_ms if reference.p50_ms else 0.0
        lines.append(
            f"| {f.name} | {f.queries or '-'} | {f.cpu_ms:.1f} ms | {f.p50_ms:.1f} ms | "
            f"{f.p99_ms:.1f} ms | {ratio:.1f}x |"
        )
    command = "python -m bench.api_lists"
    if r.database == "PostgreSQL":
        command = f"BENCH_POSTGRES_URL=... {command}"
    lines += ["", f"Reproduce: `{command}` (part of `make bench`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
