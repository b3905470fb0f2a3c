"""``python -m bench.audit_trail`` (run by ``make bench``): a workspace's audit trail at
1,000,000 events, its page and its CSV, on SQLite and on PostgreSQL.

For each database (the embedded SQLite, and PostgreSQL when ``BENCH_POSTGRES_URL`` or the
project's test server ``postgres://postgres@127.0.0.1:5432/postgres`` answers) a child process
makes a throw-away data directory (and database) and:

1. seeds ``BENCH_AUDIT_EVENTS`` events (default 1,000,000) into one workspace's chain, made by
   the real services (its manager, the workspace and its first rows), then appended in bulk:
   each row's HMAC computed with ``audit.services.event_hash`` (the function ``audit_record``
   uses) over the row before's, in a second process while this one inserts the batch before
   (``executemany`` on SQLite, ``COPY`` on PostgreSQL), the chain's head moved to the last
   row, times never going back as ``audit_record`` writes them; then
   ``audit.selectors.audit_verify`` walks the chain, so a trail that would not verify is never
   measured. Three years of events by 300 people about 2,000 documents, a mix of actions;
2. starts the real server (``commonroom serve``), signs the manager in through the sign-in form,
   and asks one page at a time, ``BENCH_AUDIT_REQUESTS`` times (default 100, fewer for a page
   slower than ``BENCH_AUDIT_SECONDS`` per row): the sign-in page (the reference: a page that
   reads nothing of the trail), the trail's first page, the trail filtered by a person, by a
   document, by a month, and a deep page (500,000 events down, reached as the page's own
   "Older" link reaches it). Every answer must be a 200 with its rows;
3. downloads the CSV of the newest ~100,000 events (a date filter) and of the whole trail, each
   streamed, with the server's resident memory sampled every 20 ms: constant memory is a peak
   growth that does not follow the number of rows.

SQL queries per page are counted in this process (Django's test client). With
``BENCH_AUDIT_PROFILE=1`` each trail page is also profiled in this process (pyinstrument, which
must then be installed) and the profiles printed. Nothing here fails on timing.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.machine import load_average, machine
from bench.report import TIMES, write_section
from bench.server import each_database

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "") or 1_000_000)
REQUESTS = int(os.environ.get("BENCH_AUDIT_REQUESTS", "") or 100)
SECONDS = float(os.environ.get("BENCH_AUDIT_SECONDS", "") or 20)
PROFILE = os.environ.get("BENCH_AUDIT_PROFILE", "") == "1"
MANAGER = "priya@example.org"
PEOPLE = 300
DOCUMENTS = 2000
YEARS = 3
DEPTH = min(500_000, EVENTS // 2)  # how far down the deep page is, in events
CSV_SMALL = min(100_000, EVENTS // 10)
BATCH = 20_000
PAGE_SIZE = 100
DEEP = f"Trail, {DEPTH:,} events down"

# What the trail of a busy workspace holds, roughly: mostly readings, then uploads and comments.
ACTIONS = [
    ("document.viewed", 40),
    ("preview.viewed", 25),
    ("version.uploaded", 10),
    ("version.downloaded", 8),
    ("comment.created", 8),
    ("version.read", 5),
    ("document.renamed", 2),
    ("member.added", 1),
    ("folder.created", 1),
]
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0"
)


def step(message: str) -> None:
    print(f"[audit] {message}", flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


# --- Seeding ---------------------------------------------------------------------------------


class _Row:
    """A row as ``event_hash`` reads it (attributes by name), without a model instance."""

    __slots__ = (
        "action",
        "actor_email",
        "actor_id",
        "created_at",
        "data",
        "document_id",
        "hash",
        "ip",
        "prev_hash",
        "seq",
        "target_id",
        "target_label",
        "target_type",
        "user_agent",
        "workspace_id",
    )


def _batches(out: Any, plan: dict[str, Any]) -> None:
    """In a child process: the chain's rows, ``BATCH`` at a time, each with its HMAC over the
    row before's, put on ``out`` as lists of column values (as the database takes them); then
    ``("end", seq, hash, last time, seconds spent)``. Hashing is one row after another (each
    row's HMAC covers the one before), so it runs here while the parent inserts the batch
    before: the two halves of the seeding share the machine's CPUs."""
    from django.db import connection

    from commonroom.audit.services import HASHED_FIELDS, audit_key, event_hash

    key = audit_key()
    rng = random.Random()
    rng.setstate(plan["rng"])  # where the parent's left off: the same trail as one process made
    people, documents = plan["people"], plan["documents"]
    actions = [a for a, weight in ACTIONS for _ in range(weight)]
    start, span, workspace = plan["start"], plan["span"], plan["workspace"]
    postgres = plan["postgres"]
    columns = [*HASHED_FIELDS, "hash"]
    data_at, created_at = columns.index("data"), columns.index("created_at")
    workspace_at, document_at = columns.index("workspace_id"), columns.index("document_id")
    seq, prev = plan["seq"], plan["hash"]
    busy = 0.0
    done = 0
    r = _Row()
    while done < EVENTS:
        batch = min(BATCH, EVENTS - done)
        h0 = time.perf_counter()
        rows = []
        for i in range(done, done + batch):
            seq += 1
            r.seq = seq
            r.created_at = start + timedelta(seconds=span * i / EVENTS)
            r.action = actions[rng.randrange(len(actions))]
            r.actor_id, r.actor_email = people[rng.randrange(PEOPLE)]
            r.workspace_id = workspace
            doc, n = documents[rng.randrange(DOCUMENTS)]
            r.document_id = None if r.action in ("member.added", "folder.created") else doc
            r.target_type = "document" if r.document_id else "workspace"
            r.target_id = str(doc) if r.document_id else str(workspace)
            r.target_label = f"Board paper {n:04d}.docx" if r.document_id else "Trust board"
            r.ip = f"10.{n % 200}.{i % 250}.{n % 250 + 1}"
            r.user_agent = USER_AGENT
            r.data = {"version": i % 7 + 1} if "version" in r.action else {}
            r.prev_hash = prev
            r.hash = prev = event_hash(r, key)  # type: ignore[arg-type]
            row = [getattr(r, name) for name in columns]
            row[data_at] = json.dumps(r.data)
            if not postgres:  # as Django writes them to SQLite: hex ids, text times
                row[created_at] = connection.ops.adapt_datetimefield_value(r.created_at)
                row[workspace_at] = r.workspace_id.hex
                row[document_at] = r.document_id.hex if r.document_id else None
            rows.append(row)
        busy += time.perf_counter() - h0
        out.put(rows)
        done += batch
    out.put(("end", seq, prev, r.created_at if done else plan["start"], busy))
    out.close()
    out.join_thread()
    # Leave without Django's or the database driver's clean-up: the connection this process
    # was forked with is the parent's, which is still using it.
    os._exit(0)


def _next_batch(queue: Any, maker: Any) -> Any:
    """The next batch the hashing process has made; a clear stop if it died without one."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not maker.is_alive():
                raise SystemExit(
                    f"the process making the trail's rows stopped (exit code {maker.exitcode})"
                ) from None


def seed(password: str) -> dict[str, Any]:
    """The manager, the workspace and its chain of ``EVENTS`` more events; what to ask for."""
    import multiprocessing
    from unittest import mock

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from commonroom.audit.models import AuditChainHead, AuditEvent, chain_key
    from commonroom.audit.services import HASHED_FIELDS
    from commonroom.workspaces.services import workspace_create

    rng = random.Random(20261205)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=365 * YEARS)
    manager = get_user_model().objects.create_user(MANAGER, password, full_name="Priya Shah")
    # The workspace made just before its three years of events: a chain's times never go back.
    with mock.patch("commonroom.audit.services.timezone.now", return_value=start):
        ws = workspace_create(actor=manager, name="Trust board")
    chain = chain_key(ws.pk)
    head = AuditChainHead.objects.get(pk=chain)
    people = [(1000 + i, f"member{i:03d}@example.org") for i in range(PEOPLE)]
    documents = [(uuid.UUID(int=rng.getrandbits(128), version=4), i) for i in range(DOCUMENTS)]
    columns = [*HASHED_FIELDS, "hash"]
    table = AuditEvent._meta.db_table
    q = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    plan = {
        "people": people,
        "documents": documents,
        "start": start + timedelta(seconds=1),
        "span": (now - timedelta(hours=1) - start).total_seconds(),
        "workspace": ws.pk,
        "postgres": postgres,
        "seq": head.seq,
        "hash": head.hash,
        "rng": rng.getstate(),
    }
    fork = multiprocessing.get_context("fork")
    queue: Any = fork.Queue(maxsize=4)
    maker = fork.Process(target=_batches, args=(queue, plan), daemon=True)
    t0 = time.perf_counter()
    maker.start()
    with transaction.atomic(), connection.cursor() as cursor:
        done = 0
        while True:
            rows = _next_batch(queue, maker)
            if rows[0] == "end":
                _, seq, prev, last_at, hashing = rows
                break
            if postgres:
                raw = cursor.cursor  # psycopg's own: COPY, the bulk path PostgreSQL has
                sql = f"COPY {q(table)} ({', '.join(q(c) for c in columns)}) FROM STDIN"
                with raw.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) "  # noqa: S608 - our column names
                    f"VALUES ({marks})",
                    rows,
                )
            done += len(rows)
            if done % 200_000 == 0 or done == EVENTS:
                step(f"  {done:,} events ({time.perf_counter() - t0:.0f} s)")
        AuditChainHead.objects.filter(pk=chain).update(seq=seq, hash=prev, last_at=last_at)
    maker.join()
    inserted = time.perf_counter() - t0
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {q(table)}")  # what autovacuum does after such a load
    rows_in_chain = AuditEvent.objects.filter(workspace_id=ws.pk)
    deep = rows_in_chain.order_by("-id").values_list("id", flat=True)[DEPTH]
    small_from = rows_in_chain.order_by("-id").values_list("created_at", flat=True)[CSV_SMALL]
    month = start + timedelta(days=365 * YEARS // 2)
    person = people[7][1]
    document = documents[11][0]
    return {
        "workspace": str(ws.pk),
        "events": rows_in_chain.count(),
        "seed_s": inserted,
        "hash_s": hashing,
        "deep_id": deep,
        "deep_page": DEPTH // PAGE_SIZE + 1,
        "person": person,
        "document": str(document),
        "month_from": month.date().isoformat(),
        "month_to": (month + timedelta(days=30)).date().isoformat(),
        # The day after the 100,000th newest event: a little under 100,000 rows.
        "small_from": (small_from + timedelta(days=1)).date().isoformat(),
    }


def verify(workspace: str) -> dict[str, Any]:
    from commonroom.audit.selectors import audit_verify

    t = time.perf_counter()
    result = audit_verify(workspace_id=uuid.UUID(workspace))
    return {
        "verify_s": time.perf_counter() - t,
        "verify_ok": result.ok,
        "verify_checked": result.checked,
        "verify_problems": result.problems[:3],
    }


# --- The pages -------------------------------------------------------------------------------


def deep_url(base: str, first_page: str, seeded: dict[str, Any]) -> str:
    """The page ``DEPTH`` events down, the way the first page's "Older" link leads there: a
    page number (Django's paginator, before keyset pages) or the event it starts below."""
    link = re.search(r'nhsuk-pagination__link--next" href="\?([^"]*)"', first_page)
    if link is None:
        raise SystemExit("the trail's first page has no link to older events")
    query = link.group(1).replace("&amp;", "&")
    if re.search(r"(^|&)page=\d+", query):
        return base + "?" + re.sub(r"(^|&)page=\d+", rf"\1page={seeded['deep_page']}", query)
    match = re.search(r"(^|&)older=\d+", query)
    if match is None:
        raise SystemExit(f"the trail's link to older events is not understood: {query}")
    return base + "?" + re.sub(r"(^|&)older=\d+", rf"\1older={seeded['deep_id'] + 1}", query)


def pages(seeded: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, path and query, text the answer must hold) for each page measured."""
    base = f"/w/{seeded['workspace']}/audit/"
    return [
        ("Sign-in page (reference)", "/accounts/login/", 'name="password"'),
        ("Trail, first page", base, "<time datetime"),
        ("Trail, one person", f"{base}?person={seeded['person']}", seeded["person"]),
        ("Trail, one document", f"{base}?document={seeded['document']}", "<time datetime"),
        (
            "Trail, one month",
            f"{base}?from={seeded['month_from']}&to={seeded['month_to']}",
            "<time datetime",
        ),
    ]


def count_queries(path: str, must_contain: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(email=MANAGER))
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    if response.status_code != 200 or must_contain not in response.content.decode():
        raise SystemExit(f"{path} answered {response.status_code} without {must_contain!r}")
    timed = [(float(q["time"]) * 1000, q["sql"]) for q in ctx.captured_queries]
    slowest = max(timed)
    return {
        "queries": len(timed),
        "sql_ms": sum(t for t, _ in timed),
        "slowest_ms": slowest[0],
        "slowest_sql": slowest[1][:400],
    }


def profile(path: str) -> str:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from pyinstrument import Profiler

    client = Client()
    client.force_login(get_user_model().objects.get(email=MANAGER))
    client.get(path)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(5):
            client.get(path)
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


def sign_in(url: str, email: str, password: str) -> dict[str, str]:
    from bench.pages import sign_in as form_sign_in

    return form_sign_in(url, email, password)


def measure_page(
    server: Any, url: str, cookies: dict[str, str] | None, must_contain: str
) -> dict[str, Any]:
    import httpx

    with httpx.Client(cookies=cookies, timeout=120) as client:

        def get() -> float:
            t = time.perf_counter()
            answer = client.get(url)
            took = (time.perf_counter() - t) * 1000
            if answer.status_code != 200 or must_contain not in answer.text:
                raise SystemExit(f"{url} answered {answer.status_code} without {must_contain!r}")
            return took

        for _ in range(3):
            get()
        cpu = server.cpu_seconds()
        latencies: list[float] = []
        began = time.perf_counter()
        while len(latencies) < REQUESTS and (
            len(latencies) < 10 or time.perf_counter() - began < SECONDS
        ):
            latencies.append(get())
        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / len(latencies)
    return {
        "requests": len(latencies),
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "cpu_ms": cpu_ms,
    }


def measure_csv(server: Any, url: str, cookies: dict[str, str]) -> dict[str, Any]:
    import httpx

    server.reset_peak()
    before = server.rss_kib()
    size = lines = 0
    first = None
    with server.sampling_rss() as sampler, httpx.Client(cookies=cookies, timeout=600) as client:
        began = time.perf_counter()
        with client.stream("GET", url) as answer:
            if answer.status_code != 200 or not answer.headers["content-type"].startswith(
                "text/csv"
            ):
                raise SystemExit(f"{url} answered {answer.status_code}")
            head = b""
            for chunk in answer.iter_bytes():
                if first is None:
                    first = time.perf_counter() - began
                    head = chunk[:40]
                size += len(chunk)
                lines += chunk.count(b"\n")
        took = time.perf_counter() - began
    if not head.startswith(b"seq,time,action"):
        raise SystemExit(f"{url} is not the trail's CSV: {head!r}")
    rows = lines - 1  # the seeded cells hold no line breaks: one line a row, after the header
    return {
        "rows": rows,
        "mb": size / 1e6,
        "seconds": took,
        "first_s": first or 0.0,
        "rows_per_s": rows / took if took else 0.0,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": max(sampler.max_kib, server.peak_kib()) / 1024,
        "samples": sampler.samples,
    }


def child(out: Path) -> None:
    import secrets

    import django

    django.setup()
    from django.db import connection, connections

    from bench.server import Server

    password = secrets.token_urlsafe(16)
    database = connection.vendor
    step(f"seeding {EVENTS:,} events ({database})")
    seeded = seed(password)
    step(
        f"seeded {seeded['events']:,} events in {seeded['seed_s']:.1f} s "
        f"(the rows and their HMACs made alongside, busy {seeded['hash_s']:.1f} s); "
        "verifying the chain"
    )
    seeded.update(verify(seeded["workspace"]))
    step(
        f"audit verify: {'ok' if seeded['verify_ok'] else 'FAILED'}, "
        f"{seeded['verify_checked']:,} rows in {seeded['verify_s']:.1f} s"
    )
    if not seeded["verify_ok"]:
        raise SystemExit(f"the seeded trail does not verify: {seeded['verify_problems']}")

    specs = pages(seeded)
    results: list[dict[str, Any]] = []
    data_dir = Path(os.environ["COMMONROOM_DATA_DIR"])
    with Server(dict(os.environ), data_dir / "server.log") as server:
        url = server.url
        cookies = sign_in(url, MANAGER, password)
        first = measure_page(server, url + specs[1][1], cookies, specs[1][2])
        import httpx

        first_html = httpx.get(url + specs[1][1], cookies=cookies, timeout=120).text
        deep = deep_url(specs[1][1], first_html, seeded)
        specs.append((DEEP, deep, "<time datetime"))
        for name, path, must in specs:
            figures = first if path == specs[1][1] else None
            if figures is None:
                figures = measure_page(
                    server, url + path, None if "login" in path else cookies, must
                )
            if "login" not in path:
                figures.update(count_queries(path, must))
            figures.update({"name": name, "path": path})
            results.append(figures)
            step(
                f"{name}: p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
                f"{figures['cpu_ms']:.1f} ms CPU ({figures['requests']} requests)"
                + (f", {figures['queries']} queries" if "queries" in figures else "")
            )
        connections.close_all()
        csvs = []
        base = specs[1][1]
        for label, query in (
            (f"newest ~{CSV_SMALL:,} events", f"?format=csv&from={seeded['small_from']}"),
            ("the whole trail", "?format=csv"),
        ):
            step(f"CSV of {label}")
            figures = measure_csv(server, url + base + query, cookies)
            figures["label"] = label
            csvs.append(figures)
            step(
                f"  {figures['rows']:,} rows, {figures['mb']:.0f} MB in {figures['seconds']:.1f} s "
                f"({figures['rows_per_s']:,.0f} rows/s, first bytes after "
                f"{figures['first_s']:.2f} s); RSS {figures['rss_before_mib']:.0f} MiB before, "
                f"peak {figures['rss_peak_mib']:.0f} MiB"
            )
    profiles = {}
    if PROFILE:
        for name, path, _ in specs[1:]:
            profiles[name] = profile(path)
            print(f"\n===== profile: {name} ({path}) =====\n{profiles[name]}", flush=True)
    out.write_text(
        json.dumps({"seeded": seeded, "pages": results, "csv": csvs, "profiles": profiles})
    )


# --- The parent: each database in its own process ---------------------------------------------


BUDGET = {
    "Trail, first page": "p50 < 30 ms",
    "Trail, one person": "p50 < 30 ms",
    "Trail, one document": "p50 < 30 ms",
    "Trail, one month": "p50 < 30 ms",
    DEEP: "p50 < 30 ms",
}


def render(runs: list[dict[str, Any]], notes: list[str], info: Any) -> str:
    lines = [
        "## Audit trail at 1,000,000 events (issue 16): its page and its CSV",
        "",
        f"One workspace's chain of {EVENTS:,} events (three years; {PEOPLE} people, "
        f"{DOCUMENTS:,} documents, mostly readings), seeded in bulk with the HMACs the trail "
        "uses and verified by `audit verify` before anything is measured. The real server "
        "(`commonroom serve`, one process), signed in as the workspace's manager through the "
        f"sign-in form; each page asked one at a time, up to {REQUESTS} times after 3 warm-ups "
        "(fewer for a page slower than "
        f"{SECONDS:g} s a row, never fewer than 10): latency on loopback, the server's CPU "
        "per request (user + system), SQL queries counted in-process on the same data. The "
        "sign-in page, which reads nothing of the trail, is the reference. Nothing fails on "
        "timing.",
        "",
        f"Machine: {info.describe()}; commit {info.commit}; {info.date}; "
        f"load {info.load_start} → {load_average()}.",
        "",
    ]
    for run in runs:
        s = run["seeded"]
        reference = next(p for p in run["pages"] if "login" in p["path"])
        lines += [
            f"### {run['label']}",
            "",
            f"Seeded {s['events']:,} events in {s['seed_s']:.0f} s (the rows and their HMACs "
            f"made in a second process alongside the inserts, busy {s['hash_s']:.0f} s "
            f"of it); `audit verify --workspace` checked {s['verify_checked']:,} rows "
            f"in {s['verify_s']:.0f} s: {'ok' if s['verify_ok'] else 'FAILED'}.",
            "",
            "| Page | p50 | p99 | p50 ÷ sign-in | Server CPU / request | SQL queries "
            "| SQL time | Budget |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for p in run["pages"]:
            ratio = p["p50"] / reference["p50"] if reference["p50"] else 0
            queries = f"{p['queries']}" if "queries" in p else "-"
            sql = f"{p['sql_ms']:.1f} ms" if "sql_ms" in p else "-"
            lines.append(
                f"| {p['name']} | **{p['p50']:.1f} ms** | {p['p99']:.1f} ms | "
                f"{ratio:.1f}{TIMES} | {p['cpu_ms']:.1f} ms | {queries} | {sql} | "
                f"{BUDGET.get(p['name'], '-')} |"
            )
        lines += [
            "",
            "| CSV | Rows | Size | Time | Rows/s | First bytes | Server RSS before | Peak "
            "| Growth | Budget |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for c in run["csv"]:
            lines.append(
                f"| {c['label']} | {c['rows']:,} | {c['mb']:.0f} MB | {c['seconds']:.1f} s | "
                f"**{c['rows_per_s']:,.0f}** | {c['first_s']:.2f} s | "
                f"{c['rss_before_mib']:.0f} MiB | {c['rss_peak_mib']:.0f} MiB | "
                f"**{c['rss_peak_mib'] - c['rss_before_mib']:+.0f} MiB** | constant memory |"
            )
        lines.append("")
    lines += [
        *(f"- {n}" for n in notes),
        "",
        "Reproduce: `.venv/bin/python -m bench.audit_trail` (part of `make bench`; "
        "`BENCH_AUDIT_EVENTS`, `BENCH_AUDIT_PROFILE=1` for the profiles).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    from django.conf import settings

    if not settings.configured:  # postgres_database closes Django's connections: none here
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    only = os.environ.get("BENCH_AUDIT_DATABASES", "sqlite,postgresql").split(",")
    runs, notes = each_database(
        config, "bench.audit_trail", labels=("SQLite", "PostgreSQL"), only=only
    )
    text = render(runs, notes, info)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "audit", text)
        step(f"figures written to {config.output}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
