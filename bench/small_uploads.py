"""``python -m bench.small_uploads`` (run by ``make bench``): small files uploaded through the JSON
API one after another, beside what the disk and the server do for the least work of the same kind.

For each database (the embedded SQLite, and PostgreSQL when ``BENCH_POSTGRES_URL`` or the
project's test server ``postgres://postgres@127.0.0.1:5432/postgres`` answers), a child process
makes a throw-away data directory (and database), a person with a write API token, a workspace
with two other members and a document, starts ``commonroom serve --no-worker`` (uvicorn, one
process) and, with one client and keep-alive, one request at a time:

1. *the disk's own rate*: ``BENCH_SMALL_UPLOADS`` (default 1,000) times, in a plain Python loop
   in the data directory: a new file created, 4 KiB written, the file ``fsync`` ed, closed, its
   folder ``fsync`` ed (the durability work the blob store does for each upload);
2. *a trivial authenticated API GET*: ``GET /api/v1/me`` with the same bearer token, as many
   times: what any request costs (the guard, Django, the token);
3. *new documents*: as many ``POST /api/v1/workspaces/{id}/documents`` (multipart, 4 KiB of
   other random bytes under a new name each);
4. *new versions*: as many ``POST .../documents/{doc}/versions`` over the one document (two
   other members follow it, so each version notifies them).

Each upload must answer 201 with the SHA-256 and size sent. Figures: uploads (or requests) per
second, p50 and p99 of the wall time of each, and the server process's CPU time (user + system)
per request, which moves far less than wall time when other work shares the machine. The
preview task each upload queues is left in the queue (no worker runs), as the queue is what the
upload pays for. Nothing here fails on timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.machine import filesystem_of, load_average, machine
from bench.report import TIMES, write_section
from bench.server import Server, each_database

COUNT = max(1, int(os.environ.get("BENCH_SMALL_UPLOADS", "") or 1000))
SIZE = 4096
WARM_UP = 20
BUDGET_PER_SECOND = 100


def step(message: str) -> None:
    print(f"[small-uploads] {message}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def figures_of(
    seconds: list[float], total: float, cpu: float | None = None
) -> dict[str, float | None]:
    """Per second, p50 and p99 (ms), and server CPU per request (ms), of a run of requests."""
    return {
        "count": len(seconds),
        "per_second": len(seconds) / total,
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "cpu_ms": None if cpu is None else cpu / len(seconds) * 1000,
    }


# --- The child: one database ------------------------------------------------------------------


def seed() -> dict[str, str]:
    """A person with a write token, a workspace with two other members, one document of theirs
    that both others follow (so a new version notifies them). Call after ``django.setup()``."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connections

    from commonroom.accounts.models import TokenScope
    from commonroom.accounts.services import token_create
    from commonroom.documents.services import document_upload
    from commonroom.notifications.models import Follow
    from commonroom.workspaces.models import Membership, Role
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    User = get_user_model()
    person = User.objects.create_user(
        email="uploader@example.org", password=secrets.token_urlsafe(16), full_name="Una Loader"
    )
    others = [
        User.objects.create_user(
            email=f"reader{n}@example.org", password=secrets.token_urlsafe(16), full_name=f"R {n}"
        )
        for n in (1, 2)
    ]
    secret = token_create(actor=person, name="benchmark", scope=TokenScope.WRITE).secret
    ws = workspace_create(actor=person, name="Small uploads")
    for other in others:
        Membership.objects.create(workspace=ws, user=other, role=Role.EDITOR)
    access = workspace_access(user=person, workspace_id=ws.pk)
    first = document_upload(
        actor=person,
        access=access,
        uploaded=SimpleUploadedFile("running-notes.txt", os.urandom(SIZE)),
    )
    for other in others:
        Follow.objects.get_or_create(user=other, document_id=first.document_id)
    connections.close_all()
    return {"token": secret, "workspace": str(ws.pk), "document": str(first.document_id)}


def durability() -> str:
    """What the database does to make a commit durable, as the server's connection sets it."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            level = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(cursor.fetchone()[0], "?")
            return f"journal_mode={journal}, synchronous={level}"
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        commit = cursor.fetchone()[0]
        cursor.execute("SHOW wal_sync_method")
        method = cursor.fetchone()[0]
        return f"fsync={fsync}, synchronous_commit={commit}, wal_sync_method={method}"


def database_name() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"


def disk_loop(folder: Path, count: int) -> dict[str, float | None]:
    """The blob store's durability work in a plain loop: a new file, 4 KiB written, the file
    fsynced and closed, its folder fsynced."""
    folder.mkdir()
    block = os.urandom(SIZE)
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    seconds = []
    try:
        started = time.perf_counter()
        for n in range(count):
            t = time.perf_counter()
            fd = os.open(folder / f"f{n:06d}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, block)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.fsync(directory)
            seconds.append(time.perf_counter() - t)
        total = time.perf_counter() - started
    finally:
        os.close(directory)
    return figures_of(seconds, total)


def timed(
    count: int, request: Callable[[int], None], cpu: Callable[[], float]
) -> dict[str, float | None]:
    seconds = []
    cpu_before = cpu()
    started = time.perf_counter()
    for n in range(count):
        t = time.perf_counter()
        request(n)
        seconds.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    return figures_of(seconds, total, cpu() - cpu_before)


def check(response: Any, status: int, content: bytes | None = None) -> None:
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}, not {status}: {response.text[:300]}"
        )
    if content is not None:
        answer = response.json()
        version = answer.get("version", answer)
        if version["sha256"] != hashlib.sha256(content).hexdigest() or version["size"] != SIZE:
            raise SystemExit(f"an upload arrived altered: {version}")


def child(out: Path) -> None:
    import django
    import httpx

    django.setup()
    from django.conf import settings

    data_dir = Path(settings.DATA_DIR)
    database = database_name()
    step(f"{database}: seeding")
    seeded = seed()
    setting = durability()
    from django.db import connections

    connections.close_all()
    figures: dict[str, Any] = {"database": database, "durability": setting}
    step(f"{database}: the disk's own loop, {COUNT:,} files")
    figures["disk"] = disk_loop(data_dir / "disk-loop", COUNT)
    env = dict(os.environ)
    ws, doc = seeded["workspace"], seeded["document"]
    with Server(env, data_dir / "server.log") as server:
        api = f"{server.url}/api/v1"
        headers = {"Authorization": f"Bearer {seeded['token']}"}
        # Other bytes for every upload, made before the clock starts.
        bodies = [os.urandom(SIZE) for _ in range(2 * (COUNT + WARM_UP))]
        with httpx.Client(headers=headers, timeout=60) as client:

            def me(_: int) -> None:
                check(client.get(f"{api}/me"), 200)

            def new_document(n: int) -> None:
                content = bodies[n]
                check(
                    client.post(
                        f"{api}/workspaces/{ws}/documents",
                        files={"file": (f"note-{n:05d}.txt", content, "text/plain")},
                    ),
                    201,
                    content,
                )

            def new_version(n: int) -> None:
                content = bodies[COUNT + WARM_UP + n]
                check(
                    client.post(
                        f"{api}/workspaces/{ws}/documents/{doc}/versions",
                        files={"file": ("running-notes.txt", content, "text/plain")},
                    ),
                    201,
                    content,
                )

            for n in range(WARM_UP):
                me(n)
                new_document(COUNT + n)
                new_version(COUNT + n)
            step(f"{database}: GET /api/v1/me x {COUNT:,}")
            figures["get"] = timed(COUNT, me, server.cpu_seconds)
            step(f"{database}: {COUNT:,} uploads of new documents")
            figures["documents"] = timed(COUNT, new_document, server.cpu_seconds)
            step(f"{database}: {COUNT:,} new versions of one document")
            figures["versions"] = timed(COUNT, new_version, server.cpu_seconds)
    for key in ("disk", "get", "documents", "versions"):
        f = figures[key]
        step(
            f"  {key}: {f['per_second']:,.0f}/s, p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms"
        )
    figures["disk_filesystem"] = filesystem_of(data_dir)
    out.write_text(json.dumps(figures))


# --- The parent: each database in its own process ---------------------------------------------


def cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def render(rows: list[dict[str, Any]], notes: list[str], info: Any, config: Config) -> str:
    lines = [
        "## Small uploads (issue 16): 4 KiB files through the API, one after another",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. Data on "
        f"{rows[0]['disk_filesystem'] if rows else filesystem_of(config.base_dir)}. Reproduce: "
        "`make bench` (or `python -m bench.small_uploads`; `BENCH_SMALL_UPLOADS`).",
        "",
        "`commonroom serve --no-worker` (uvicorn, one process), one client with keep-alive, one "
        "request at a time, a write API token. *New document*: `POST "
        "/api/v1/workspaces/{id}/documents`, multipart, 4 KiB of other bytes under a new name "
        "each time; *new version*: `POST .../documents/{doc}/versions` over one document that "
        "two other members follow. Each is a whole upload: hashed, the blob stored (the file "
        "`fsync`ed, linked into place, its folder `fsync`ed), the version, its audit row, the "
        "live event, following and the followers' notifications, the search entry, the "
        "preview's rows and its task (queued: no worker runs); each must answer 201 with the "
        "SHA-256 and size sent. The references, in the same run on the same disk: *the disk's "
        "own loop* (a plain Python loop doing the blob store's durability work: a new file, "
        "4 KiB written, the file `fsync`ed, its folder `fsync`ed) and *a trivial API GET* "
        "(`GET /api/v1/me`, the same token). Server CPU is the server process's user + system "
        f"time per request. The budget: {BUDGET_PER_SECOND} uploads a second. Nothing fails "
        "on timing.",
        "",
        "| Database | What | Count | Per second | Budget | p50 | p99 | Server CPU / request "
        "| Time ÷ the disk's loop | Time ÷ the API GET |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        disk, get = r["disk"], r["get"]
        for key, label in (
            ("disk", "The disk's own loop (4 KiB, fsync file + folder)"),
            ("get", "Trivial API GET (`/api/v1/me`)"),
            ("documents", "**Upload, new document**"),
            ("versions", "**Upload, new version**"),
        ):
            f = r[key]
            per = (
                f"**{f['per_second']:,.0f}**"
                if key in ("documents", "versions")
                else (f"{f['per_second']:,.0f}")
            )
            by_disk = (
                f"{disk['per_second'] / f['per_second']:,.1f}{TIMES}" if key != "disk" else "-"
            )
            by_get = (
                f"{get['per_second'] / f['per_second']:,.1f}{TIMES}"
                if key in ("documents", "versions")
                else "-"
            )
            budget = "-"
            if key in ("documents", "versions"):
                met = f["per_second"] >= BUDGET_PER_SECOND
                budget = f"≥ {BUDGET_PER_SECOND}/s: {'met' if met else 'not met'}"
            lines.append(
                f"| {r['database']} | {label} | {f['count']:,} | {per} | {budget} | "
                f"{f['p50_ms']:.1f} ms | "
                f"{f['p99_ms']:.1f} ms | {cpu(f['cpu_ms'])} | {by_disk} | {by_get} |"
            )
    lines.append("")
    for r in rows:
        lines.append(f"- {r['database']}: the database's durability: {r['durability']}.")
    lines += [*(f"- {n}" for n in notes), ""]
    return "\n".join(lines)


def main() -> None:
    from django.conf import settings

    if not settings.configured:  # postgres_database closes Django's connections: none here
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    rows, notes = each_database(config, "bench.small_uploads")
    text = render(rows, notes, info, config)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "small-uploads", text)
        step(f"figures written to {config.output}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
